/** `none` (DataComp no_filter): every row the stage sees is kept. */
import type { RowResult } from '../result.js';

export function noFilter(rows: number, active: Uint8Array | null): RowResult {
  const keep = active ? active.slice() : new Uint8Array(rows).fill(1);
  return { keep, reason: new Uint16Array(rows), value: new Float32Array(rows), rules: [] };
}
