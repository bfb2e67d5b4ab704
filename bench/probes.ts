/**
 * Bias probes (issue: audit, item 4). Two figures with goals:
 *   - image attributes per image on one core (goal < 5 ms): a demo pool with images (default 3,000
 *     samples, made once under bench-output/), decoded by one worker thread with libvips on one
 *     thread; reported as wall time and as CPU time per image; then with the default workers;
 *   - the probe on 100k rows (goal < 10 s): the 100k `--no-images` bench pool, kept vs dropped of
 *     the CLIP-score top-30% filter, with the text, size and CLIP (l14_img, 768-d) families and a
 *     synthetic 6-feature colour family standing in for the image families (that pool has no images).
 * Usage: npm run bench -- probes [imageSamples] [probeSamples]
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { generateDemoPool } from '../native/demo/index.js';
import { runFilter } from '../native/filters/decisions.js';
import { computeAttributes, runProbes } from '../native/audit/probes/index.js';
import { mulberry32 } from '../native/map/linalg.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const imageSamples = Number(process.argv[2] ?? 3000);
const probeSamples = Number(process.argv[3] ?? 100_000);

// --- image attributes -------------------------------------------------------------------------
const imgDir = path.join(BENCH_DIR, `pool-images-${imageSamples}`);
if (!fs.existsSync(path.join(imgDir, '.complete'))) {
  fs.rmSync(imgDir, { recursive: true, force: true });
  await generateDemoPool(imgDir, { samples: imageSamples, seed: 0, images: true });
  fs.writeFileSync(path.join(imgDir, '.complete'), '');
}
const imgWs = path.join(BENCH_DIR, `ws-probes-images-${imageSamples}`);
fs.rmSync(imgWs, { recursive: true, force: true });
const imgPool = await Pool.open(imgDir, { workspace: imgWs });
report('image pool: samples with an image', imgPool.info().rowsWithImage);

const cpu0 = process.cpuUsage();
const one = await timed(() => computeAttributes(imgPool, { workers: 1, sharpConcurrency: 1, force: true }));
const cpu = process.cpuUsage(cpu0);
const decoded = one.value.imagesDecoded;
report('attributes, 1 worker, libvips 1 thread (wall)', (1000 * one.value.imageSeconds) / decoded, 'ms/image (goal < 5)');
report('attributes, 1 worker, CPU time all threads', (cpu.user + cpu.system) / 1000 / decoded, 'ms/image');
const many = await timed(() => computeAttributes(imgPool, { force: true, sharpConcurrency: 1 }));
report('attributes, default workers (wall)', (1000 * many.value.imageSeconds) / decoded, 'ms/image');
report('attributes, all families incl. text and size', many.seconds, 's');

const imgKeep = (await runFilter(imgPool, { filter: 'clip_score', arch: 'l14', fraction: 0.3 })).keep;
const imgProbe = await timed(() => runProbes(imgPool, imgKeep));
report(`probe, image pool (${imageSamples} rows, all families)`, imgProbe.seconds, 's');
for (const f of imgProbe.value.families) {
  report(`  ${f.name} accuracy (control)`, `${f.accuracy.mean.toFixed(3)} ± ${f.accuracy.sd.toFixed(3)} (${f.control!.mean.toFixed(3)}), n ${f.n[0]}+${f.n[1]}`);
}
imgPool.close();

// --- the probe on 100k rows ---------------------------------------------------------------------
const { dir } = await benchPool(probeSamples);
const ws = path.join(BENCH_DIR, `ws-probes-${probeSamples}`);
const pool = await Pool.open(dir, { workspace: ws });
const feat = await timed(() => pool.feature('l14_img'));
report('l14_img copied from npz (once per pool)', feat.seconds, 's');
const keep = (await runFilter(pool, { filter: 'clip_score', arch: 'l14', fraction: 0.3 })).keep;
const attrs = await timed(() => computeAttributes(pool));
report('text + size families (once per pool)', attrs.seconds, 's');

// synthetic colour features: the kept rows a little warmer, so the probe has something to find
const rand = mulberry32(1);
const colour = new Float32Array(pool.rows * 6);
for (let r = 0; r < pool.rows; r++) for (let j = 0; j < 6; j++) colour[r * 6 + j] = rand() * 100 + (j === 0 && keep[r] ? 8 : 0);
const probeCpu0 = process.cpuUsage();
const probe = await timed(() =>
  runProbes(pool, keep, undefined, {
    families: ['size', 'text', 'clip', 'synthetic_color'],
    extraFamilies: [{ name: 'synthetic_color', features: ['mean_r', 'mean_g', 'mean_b', 'saturation', 'brightness', 'colourfulness'], data: colour }],
  }),
);
const kept = keep.reduce((s, v) => s + v, 0);
const probeCpu = process.cpuUsage(probeCpu0);
report(`probe, ${probeSamples} rows (kept ${kept} vs dropped ${pool.rows - kept})`, probe.seconds, 's (goal < 10)');
report('  CPU time of that probe, all threads', (probeCpu.user + probeCpu.system) / 1e6, 's');
for (const f of probe.value.families) {
  report(`  ${f.name}: seconds`, f.seconds, `s (${f.iterations} L-BFGS iterations, n ${f.n[0]}+${f.n[1]}, ${f.features.length} features)`);
  report(`  ${f.name}: accuracy (control)`, `${f.accuracy.mean.toFixed(3)} ± ${f.accuracy.sd.toFixed(3)} (${f.control!.mean.toFixed(3)})`);
}
const noControl = await timed(() => runProbes(pool, keep, undefined, { families: ['clip'], control: false }));
report('probe, clip only, no control', noControl.seconds, 's');
pool.close();
finish('probes');
