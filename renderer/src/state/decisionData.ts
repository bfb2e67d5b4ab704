/**
 * The engine's decisions as typed arrays, fetched once per decision and shared by whoever needs them:
 * the map's colours (filterActions.showDecision), the comparison (compare.ts), the grid's "why
 * dropped" (PickedGrid) and the overlap chart's picking (auditActions). Each getDecision moves the
 * keep mask and the reasons over the socket (3 bytes a row: 3 MB for a million rows), so a decision
 * shown again, or asked for by two views at once, costs nothing the second time.
 *
 * Safe to keep: a decision's id hashes its spec and the files it read (native/filters/spec.ts), so
 * an id names one result on one pool. The same spec on another pool has the same id, hence the key
 * holds the pool's fingerprint. Only the last CACHED decisions stay (a few MB each).
 */
import type { DecisionSummary } from '../../../native/api.js';
import { client } from '../client/client.js';
import { usePool } from './pool.js';

export interface DecisionArrays {
  summary: DecisionSummary;
  /** 1 kept, 0 dropped, per row */
  keep: Uint8Array;
  /** 0 kept, else 1 + the index in summary.rules of the rule that dropped the row first */
  reason: Uint16Array;
}

const CACHED = 6;
const cache = new Map<string, Promise<DecisionArrays>>();

/** The decision `id` of the open pool (from the cache when it was fetched before). */
export function decisionArrays(id: string): Promise<DecisionArrays> {
  const key = `${usePool.getState().pool?.fingerprint ?? ''}|${id}`;
  let p = cache.get(key);
  if (p) {
    // most recently used last, so the oldest goes first
    cache.delete(key);
  } else {
    p = client()
      .getDecision(id)
      .then((d) => ({ summary: d.summary, keep: new Uint8Array(d.keep), reason: new Uint16Array(d.reason) }));
    // a failure is not kept: the next call asks again
    p.catch(() => cache.delete(key));
  }
  cache.set(key, p);
  while (cache.size > CACHED) cache.delete(cache.keys().next().value as string);
  return p;
}

// Another pool: its decisions are others (the key would miss them anyway; this frees the memory).
usePool.subscribe((s, prev) => {
  if (s.pool?.fingerprint !== prev.pool?.fingerprint) cache.clear();
});
