/**
 * The engine's decisions' keep masks as typed arrays, fetched once per decision and shared by
 * whoever needs them: the map's colours (filterActions.showDecision), the comparison (compare.ts)
 * and the overlap chart's picking (auditActions). getDecisionMask sends the mask bit-packed (an
 * eighth of a byte a row: 125 kB for a million rows, where getDecision's keep and reasons were 3 MB);
 * it is unpacked here once. Why a row was dropped is asked for only for the rows a view shows
 * (explainRows, panels/PickedGrid), so a new decision moves nothing else.
 *
 * Safe to keep: a decision's id hashes its spec and the files it read (native/filters/spec.ts), so
 * an id names one result on one pool. The same spec on another pool has the same id, hence the key
 * holds the pool's fingerprint. Only the last CACHED decisions stay (a byte a row each).
 */
import type { DecisionSummary } from '../../../native/api.js';
import { client } from '../client/client.js';
import { unpackKeep } from './keepBits.js';
import { usePool } from './pool.js';

export interface DecisionArrays {
  summary: DecisionSummary;
  /** 1 kept, 0 dropped, per row */
  keep: Uint8Array;
  /** rows the mask keeps, counted while unpacking it (the legend checks it against summary.kept) */
  kept: number;
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
      .getDecisionMask(id)
      .then((d) => ({ summary: d.summary, ...unpackKeep(new Uint8Array(d.bits), d.summary.total) }));
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
