/**
 * The VAS / negCLIPLoss papers' selection filters (issue 9 items 2-5) on the `--no-images` demo pools
 * of 100k and 1M rows (L/14 features, 768-d, float16 on disk). Goals at 1M on two cores: VAS < 10 s,
 * VAS-D (100 rounds, sample 0.1) < 60 s, NormSim with 10k targets < 30 s, negCLIPLoss < 60 s.
 *
 * These are dense-product workloads, so each figure comes with its FLOP count (the products only) and
 * the rate it implies, next to onnxruntime's MatMul rate measured just before it on the same cores
 * (the machine is shared: the rate moves, and the ratio says whether a figure is the work or the
 * overhead). NormSim's targets are 10,000 pool rows (every N/10,000-th), as no ImageNet features can
 * be downloaded here.
 *
 *   node dist/bench/paper-selection.js [sizes] [names]    e.g. 100000,1000000 vas_target,negclip
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { evaluate } from '../native/filters/evaluate.js';
import { canonicalSpec } from '../native/filters/spec.js';
import { writeNpy } from '../native/formats/npy.js';
import { readFeatureRows } from '../native/pool/features.js';
import { graphSession, ort } from '../native/tensor/session.js';
import { negclipTiles } from '../native/filters/papers/negclip.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const sizes = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const only = process.argv[3]?.split(',');
const D = 768;

/** onnxruntime's float32 MatMul rate right now (8192 x 768 by 768 x 768), GFLOP/s. */
async function matmulRate(): Promise<number> {
  const n = 8192;
  const s = await graphSession({
    inputs: [
      { name: 'x', type: 'float', shape: ['n', D] },
      { name: 'w', type: 'float', shape: [D, D] },
    ],
    outputs: [{ name: 'y', type: 'float', shape: ['n', D] }],
    nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
  });
  const x = new ort.Tensor('float32', Float32Array.from({ length: n * D }, (_, i) => Math.sin(i)), [n, D]);
  const w = new ort.Tensor('float32', Float32Array.from({ length: D * D }, (_, i) => Math.cos(i)), [D, D]);
  await s.run({ x, w });
  const reps = 8;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await s.run({ x, w });
  const sec = (performance.now() - t0) / 1000 / reps;
  await s.release();
  return (2 * n * D * D) / sec / 1e9;
}

/** Multiply-adds x 2 of the symmetric-block quadratic form (8 blocks: 9/16 of D²) per row. */
const QUAD = 2 * D * D * (9 / 16);

/** Rows left in each VAS-D round (vas-d.ts): n0 down to target in `iters` rounds. */
function vasDRounds(n0: number, target: number, iters: number): number[] {
  const chunk = Math.ceil((n0 - target) / iters);
  const out: number[] = [];
  let cur = n0;
  for (let r = 0; r < iters && cur > target; r++) {
    out.push(cur);
    cur = r === iters - 1 ? target : Math.max(target, cur - chunk);
  }
  return out;
}

for (const n of sizes) {
  const { dir } = await benchPool(n);
  const ws = path.join(BENCH_DIR, `ws-${n}`);
  const pool = await Pool.open(dir, { workspace: ws });
  const tag = `${n / 1000}k`;
  for (const f of ['l14_img', 'l14_txt']) {
    const t = await timed(() => pool.feature(f));
    report(`${tag} ${f} copy from npz (once per pool)`, t.seconds, 's');
  }
  // 10,000 targets taken from the pool's own rows
  const targets = path.join(BENCH_DIR, `selection-targets-10k-${n}.npy`);
  if (!fs.existsSync(targets)) {
    const { file, info } = await pool.feature('l14_img');
    const m = 10000;
    const step = Math.floor(n / m);
    const x = new Float32Array(m * D);
    for (let j = 0; j < m; j++) x.set(readFeatureRows(file, info, j * step, 1), j * D);
    writeNpy(targets, '<f4', [m, D], new Uint8Array(x.buffer));
  }
  const m = 10000;
  // the CLIP step of the code's recipes keeps int(N * 0.44) (+ ties): the count it leaves, for FLOPs
  const clip44 = canonicalSpec({ filter: 'clip_score', arch: 'l14', fraction: 0.44 });
  const n44 = (await evaluate(clip44, { pool })).keep.reduce((s, k) => s + k, 0);
  const batchesFlops = (rows: number, b: number) => {
    let f = 0;
    for (let s = 0; s < rows; s += b) f += 2 * Math.min(b, rows - s) ** 2 * D;
    return f;
  };
  const vasDFlops = (n0: number, target: number) => vasDRounds(n0, target, 100).reduce((s, r) => s + r * QUAD + 0.1 * r * 2 * D * D, 0);
  const cases: Record<string, { spec: unknown; flops: number; what: string }> = {
    vas_target: { spec: { filter: 'vas', target: targets, fraction: 0.3 }, flops: n * QUAD + 2 * m * D * D, what: `VAS, Σ of ${m} targets, top 30%` },
    vas_pool: { spec: { filter: 'vas', target: 'pool', fraction: 0.3 }, flops: n * QUAD + 2 * n * D * D, what: 'VAS, Σ of the pool, top 30%' },
    vas_d_recipe: {
      spec: { then: [clip44, { filter: 'vas_d', pool_fraction: 0.3, num_iters: 100, sample: 0.1 }] },
      flops: vasDFlops(n44, Math.floor(0.3 * n)) + 0.1 * n * 2 * D * D,
      what: `CLIP 44% (${n44} rows) -> VAS-D to 30% of the pool, 100 rounds, sample 0.1`,
    },
    vas_d_whole: {
      spec: { filter: 'vas_d', fraction: 0.3, num_iters: 100, sample: 0.1 },
      flops: vasDFlops(n, Math.floor(0.3 * n)) + 0.1 * n * 2 * D * D,
      what: 'VAS-D on the whole pool to 30%, 100 rounds, sample 0.1',
    },
    normsim_2: { spec: { filter: 'normsim', target: targets, p: 2, fraction: 0.3 }, flops: n * QUAD + 2 * m * D * D, what: `NormSim_2, ${m} targets` },
    normsim_inf: { spec: { filter: 'normsim', target: targets, p: 'inf', fraction: 0.3 }, flops: 2 * n * m * D, what: `NormSim_inf, ${m} targets` },
    negclip: { spec: { filter: 'negclip', fraction: 0.3 }, flops: batchesFlops(n, 32768), what: 'negCLIPLoss, batches of 32,768, T = 0.01, 1 batching' },
  };
  // the whole-pool VAS-D is ~2x the recipe's work (~10 min at 1M): run it at 1M only when named
  const skip = new Set(n > 100000 && !only ? ['vas_d_whole'] : []);
  for (const [name, c] of Object.entries(cases)) {
    if ((only && !only.includes(name)) || skip.has(name)) continue;
    const rate = await matmulRate();
    report(`${tag} onnxruntime MatMul rate before ${name}`, rate, 'GFLOP/s');
    const spec = canonicalSpec(c.spec);
    const r = await timed(() => evaluate(spec, { pool }));
    const kept = r.value.keep.reduce((s, k) => s + k, 0);
    report(`${tag} ${name}`, r.seconds, `s (kept ${kept} of ${n}; ${c.what})`);
    report(`${tag} ${name} products`, c.flops / 1e12, `TFLOP = ${(c.flops / 1e9 / r.seconds).toFixed(1)} GFLOP/s over the whole run; at the MatMul rate alone ${(c.flops / 1e9 / rate).toFixed(1)} s`);
    if (name === 'negclip') report(`${tag} negclip tiles redone by the stable log-sum-exp`, negclipTiles.redone, `of ${negclipTiles.tiles}`);
  }
  pool.close();
}
finish('paper-selection');
