/**
 * Captions and uids for the hover tooltip: fetched with getSampleBriefs after the pointer rests a
 * moment (debounced), batched, and kept in a bounded cache so that moving back and forth is free.
 */
import { useEffect, useState } from 'react';
import type { SampleBrief } from '../../../native/api.js';
import { client } from '../client/client.js';

const LIMIT = 5000;
const DEBOUNCE_MS = 60;
const cache = new Map<number, SampleBrief>();
const waiting = new Map<number, Set<(b: SampleBrief | null) => void>>();
let timer: ReturnType<typeof setTimeout> | null = null;

function remember(b: SampleBrief) {
  if (cache.size >= LIMIT) cache.delete(cache.keys().next().value as number);
  cache.set(b.row, b);
}

async function flush() {
  timer = null;
  const rows = [...waiting.keys()];
  const callbacks = new Map(waiting);
  waiting.clear();
  try {
    const briefs = await client().getSampleBriefs(rows);
    for (const b of briefs) remember(b);
  } catch (e) {
    console.warn('sieve: getSampleBriefs failed', e);
  }
  for (const [row, cbs] of callbacks) for (const cb of cbs) cb(cache.get(row) ?? null);
}

export function clearBriefs() {
  cache.clear();
}

/** The brief of `row` (null while it is being fetched or when there is no row). */
export function useBrief(row: number | null): SampleBrief | null {
  const [brief, setBrief] = useState<SampleBrief | null>(() => (row === null ? null : cache.get(row) ?? null));
  useEffect(() => {
    if (row === null) {
      setBrief(null);
      return;
    }
    const hit = cache.get(row);
    if (hit) {
      setBrief(hit);
      return;
    }
    setBrief(null);
    let live = true;
    const cb = (b: SampleBrief | null) => {
      if (live) setBrief(b);
    };
    let set = waiting.get(row);
    if (!set) waiting.set(row, (set = new Set()));
    set.add(cb);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void flush(), DEBOUNCE_MS);
    return () => {
      live = false;
      const s = waiting.get(row);
      if (s) {
        s.delete(cb);
        if (s.size === 0) waiting.delete(row);
      }
    };
  }, [row]);
  return brief;
}
