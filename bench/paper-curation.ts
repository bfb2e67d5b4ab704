/**
 * MetaCLIP curation and dedup (issue 9, items 1 and 6) on the `--no-images` demo pools of 100k and
 * 1M rows (own workspaces, so other benchmarks' databases are not locked):
 *
 * - MetaCLIP: building the Aho-Corasick automaton of the shipped entry list; sub-string matching of
 *   every caption (DuckDB stream + worker threads); the whole filter (matching + balancing + counts).
 *   Goal at 1M: 1M captions x 100k entries < 30 s on 2 cores.
 * - dedup: by sha256; by features (LSH, default settings); against an evaluation set of 1,000 rows.
 *   Goal at 1M: < 60 s.
 *
 * Usage: node dist/bench/paper-curation.js [SIZES] [NAMES]   e.g. 100000,1000000 metaclip,dedup_features
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { evaluate } from '../native/filters/evaluate.js';
import { canonicalSpec } from '../native/filters/spec.js';
import { loadMetaclipEntries, matchPoolCaptions } from '../native/filters/papers/metaclip.js';
import { DEFAULT_ENTRIES_FILE, readEntries } from '../native/filters/papers/metaclip-entries.js';
import { buildAutomaton } from '../native/filters/papers/metaclip-match.js';
import { nearDuplicateGroups } from '../native/filters/papers/dedup.js';
import { readFeatureRows } from '../native/pool/features.js';
import { writeNpy } from '../native/formats/npy.js';
import { mulberry32 } from '../native/map/linalg.js';
import { benchPool, BENCH_DIR, finish, report } from './common.js';

/** Wall and CPU seconds (this process, every thread: onnxruntime's and the workers' too). */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}
const cpuNote = (t: { cpu: number }) => `cpu ${t.cpu.toFixed(1)} s`;

const sizes = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const only = process.argv[3]?.split(',');
const want = (name: string) => !only || only.includes(name);

report('cores', os.availableParallelism());
for (const n of sizes) {
  const { dir } = await benchPool(n);
  const ws = path.join(BENCH_DIR, `ws-curation-${n}`);
  const opened = await timed(() => Pool.open(dir, { workspace: ws }));
  const pool = opened.value;
  const tag = `${n / 1000}k`;
  report(`${tag} open pool (own workspace)`, opened.seconds, 's');
  const kept = (keep: Uint8Array) => keep.reduce((a, b) => a + b, 0);

  if (want('metaclip')) {
    const built = await timed(async () => buildAutomaton(readEntries(DEFAULT_ENTRIES_FILE)));
    const { entries, ac } = loadMetaclipEntries(DEFAULT_ENTRIES_FILE);
    report(`${tag} metaclip entries`, entries.length, `(automaton: ${ac.nodes} nodes, ${ac.stride - 1} classes)`);
    report(`${tag} metaclip read entries + build automaton`, built.seconds, `s (${cpuNote(built)}; once per list, then cached)`);
    const m = await timed(() => matchPoolCaptions(pool, ac, null));
    const workers = n < 200_000 ? 0 : Math.max(1, Math.min(os.availableParallelism() - 1, 8));
    let matched = 0;
    for (let i = 0; i < n; i++) if (m.value.start[i + 1] > m.value.start[i]) matched++;
    report(`${tag} metaclip match ${n} captions (${workers} workers)`, m.seconds, `s (${cpuNote(m)}; ${matched} captions matched, ${m.value.ids.length} matches)`);
    const inline = await timed(() => matchPoolCaptions(pool, ac, null, { workers: 0 }));
    report(`${tag} metaclip match, one thread`, inline.seconds, `s (${cpuNote(inline)})`);
    // t scaled as the paper's 20,000 at 400M would give ~0 here: the bench uses n / 1000
    const t = Math.max(1, Math.round(n / 1000));
    const f = await timed(() => evaluate(canonicalSpec({ filter: 'metaclip', t, seed: 0 }), { pool }));
    report(`${tag} metaclip filter (t=${t})`, f.seconds, `s (${cpuNote(f)}; kept ${kept(f.value.keep)} of ${n})`);
  }

  if (want('dedup_sha256')) {
    const r = await timed(() => evaluate(canonicalSpec({ filter: 'dedup', by: 'sha256' }), { pool }));
    report(`${tag} dedup sha256`, r.seconds, `s (${cpuNote(r)}; kept ${kept(r.value.keep)} of ${n})`);
  }

  if (want('dedup_features')) {
    const spec = canonicalSpec({ filter: 'dedup', by: 'features', ...JSON.parse(process.env.DEDUP_PARAMS ?? '{}') }) as Record<string, unknown>;
    const { file, info } = await pool.feature('l14_img');
    const all = new Uint8Array(n).fill(1);
    const g = await timed(() => nearDuplicateGroups(file, info, n, all, spec as never));
    const s = g.value.stats;
    report(
      `${tag} dedup features: groups only`,
      g.seconds,
      `s (${cpuNote(g)}; tables ${spec.tables} x bits ${spec.bits}; ${s.identicalJoined} identical joined; ${s.bucketPairs} bucket pairs (once per table shared), ${s.sketchPassed} candidates past the sketch test, ${s.verified} verified, ${s.pairsFound} pairs; seconds: sketches ${s.seconds.sketches.toFixed(1)}, buckets ${s.seconds.buckets.toFixed(1)}, verify ${s.seconds.verify.toFixed(1)})`,
    );
    const r = await timed(() => evaluate(spec as never, { pool }));
    report(`${tag} dedup features (whole filter)`, r.seconds, `s (${cpuNote(r)}; kept ${kept(r.value.keep)} of ${n})`);
  }

  if (want('dedup_eval')) {
    // 1,000 "evaluation images": pool rows with a little noise (no ImageNet features here)
    const evalFile = path.join(BENCH_DIR, `curation-eval-${n}.npy`);
    if (!fs.existsSync(evalFile)) {
      const { file, info } = await pool.feature('l14_img');
      const rand = mulberry32(5);
      const M = 1000;
      const x = new Float32Array(M * info.dim);
      for (let j = 0; j < M; j++) {
        const r = readFeatureRows(file, info, Math.floor(rand() * n), 1);
        for (let q = 0; q < info.dim; q++) x[j * info.dim + q] = r[q] + (rand() - 0.5) * 0.01;
      }
      writeNpy(evalFile, '<f4', [M, info.dim], new Uint8Array(x.buffer));
    }
    const r = await timed(() => evaluate(canonicalSpec({ filter: 'dedup', eval: evalFile }), { pool }));
    report(`${tag} dedup eval (M = 1000)`, r.seconds, `s (${cpuNote(r)}; kept ${kept(r.value.keep)} of ${n})`);
  }
  pool.close();
}
finish('paper-curation');
