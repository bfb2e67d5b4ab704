/**
 * Provenance sidecars (issue 4): every export writes `<name>.sieve.json` beside its target (for a
 * file `kept.npy` that is `kept.npy.sieve.json`, for a reshard folder `shards/` it is
 * `shards.sieve.json` next to the folder): the Sieve version, the time and the command, the pool
 * (path, fingerprint, rows), the canonical spec and decision id, the per-rule drop counts and the
 * counts of the export. The audit report will write its own with `kind: 'audit'` through
 * `writeSidecar` (several decisions: pass them all).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecisionRule, DecisionSummary } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { PACKAGE_ROOT } from '../paths.js';
import { refuseExisting, writeFileAtomicSync } from './atomic.js';

let cachedVersion: string | null = null;

/** The app's version (package.json). */
export function sieveVersion(): string {
  if (cachedVersion === null) {
    try {
      cachedVersion = (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

export type ExportKind = 'subset' | 'reshard' | 'audit';

/** What a sidecar says about one decision. */
export interface DecisionProvenance {
  id: string;
  spec: unknown;
  kept: number;
  total: number;
  /** when the decision was computed (not when it was exported) */
  computed: string;
  rules: DecisionRule[];
}

export interface Provenance {
  sieve_version: string;
  kind: ExportKind;
  /** when this export was written (ISO 8601) */
  created: string;
  /** the command line (`sieve export ...`) or the API call that made it */
  command: string;
  output: Record<string, unknown>;
  pool: { path: string; fingerprint: string; rows: number };
  /** the canonical spec of the (first) decision; for an imported subset `{"filter":"subset","file":...,"sha256":...}` */
  spec: unknown;
  decision_id: string;
  counts: { kept: number; total: number; written: number } & Record<string, number>;
  /** rows each rule dropped first, in the order of the spec's leaves */
  rules: DecisionRule[];
  /** every decision when there are several (the audit compares specs) */
  decisions?: DecisionProvenance[];
  /** extra facts of the export kind (e.g. the subset import report) */
  [extra: string]: unknown;
}

export function decisionProvenance(s: DecisionSummary): DecisionProvenance {
  return { id: s.id, spec: s.spec, kept: s.kept, total: s.total, computed: s.created, rules: s.rules };
}

export interface ProvenanceInput {
  pool: Pool;
  kind: ExportKind;
  command: string;
  output: Record<string, unknown>;
  /** one decision for subsets and reshards; the audit passes every spec it compares */
  decisions: DecisionSummary[];
  counts: { written: number } & Record<string, number>;
  extra?: Record<string, unknown>;
}

export function buildProvenance(p: ProvenanceInput): Provenance {
  const first = p.decisions[0];
  return {
    sieve_version: sieveVersion(),
    kind: p.kind,
    created: new Date().toISOString(),
    command: p.command,
    output: p.output,
    pool: { path: p.pool.dir, fingerprint: p.pool.fingerprint, rows: p.pool.rows },
    spec: first?.spec ?? null,
    decision_id: first?.id ?? '',
    counts: { kept: first?.kept ?? 0, total: first?.total ?? p.pool.rows, ...p.counts },
    rules: first?.rules ?? [],
    ...(p.decisions.length > 1 ? { decisions: p.decisions.map(decisionProvenance) } : {}),
    ...(p.extra ?? {}),
  };
}

/** The sidecar path of an export target (a file or a folder). */
export function sidecarPath(target: string): string {
  const abs = path.resolve(target).replace(/[\\/]+$/, '');
  return `${abs}.sieve.json`;
}

/** Refuse an existing sidecar before any work (unless `force`). */
export function checkSidecar(target: string, force: boolean): string {
  const file = sidecarPath(target);
  refuseExisting(file, force);
  return file;
}

/** Write the sidecar of `target` atomically; returns its path. */
export function writeSidecar(target: string, provenance: Provenance): string {
  const file = sidecarPath(target);
  writeFileAtomicSync(file, `${JSON.stringify(provenance, null, 1)}\n`);
  return file;
}
