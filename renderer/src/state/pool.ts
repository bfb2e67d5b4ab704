/** The pool slice: which pool is open, and whether we are still asking. */
import { create } from 'zustand';
import type { PoolInfo } from '../../../native/api.js';

export interface PoolState {
  status: 'connecting' | 'none' | 'opening' | 'open' | 'error';
  pool: PoolInfo | null;
  /** the last failure to reach the engine or to open a pool, in the engine's words */
  error: string | null;
}

export const usePool = create<PoolState>(() => ({ status: 'connecting', pool: null, error: null }));
