/**
 * Opening a pool and its map (issue: foundation): on the 1M-sample `--no-images` demo pool, the cold
 * open (fresh workspace: parquet into DuckDB), the projection (features copied from npz, PCA, k-means,
 * labels), the warm open, and the map's binary payload. Goals: cold open + projection < 60 s,
 * warm open < 1 s, payload < 20 MB.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../native/engine.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const samples = Number(process.argv[2] ?? 1_000_000);
const { dir, generatedSeconds } = await benchPool(samples);
if (generatedSeconds !== null) {
  report('demo generator (no images), samples', samples);
  report('demo generator rate', samples / generatedSeconds, 'samples/s');
}
const ws = path.join(BENCH_DIR, `ws-${samples}`);
fs.rmSync(ws, { recursive: true, force: true });

const cold = new Engine({ workspace: ws });
const open = await timed(() => cold.openPool(dir));
report('cold open', open.seconds, 's');
const map = await timed(() => cold.getMap());
report('projection (features + PCA + k-means + labels)', map.seconds, 's');
report('cold open + projection', open.seconds + map.seconds, 's (goal < 60)');
if ('positions' in map.value) {
  report('map payload (positions + clusters)', (map.value.positions.byteLength + map.value.clusters.byteLength) / 1e6, 'MB (goal < 20)');
  report('explained variance, axes 1 and 2', map.value.explainedVariance.map((v) => v.toFixed(3)).join(' '));
}
cold.close();

const warm = new Engine({ workspace: ws });
const again = await timed(() => warm.openPool(dir));
report('warm open', again.seconds, 's (goal < 1)');
const warmMap = await timed(() => warm.getMap());
report('warm map load', warmMap.seconds, 's');
warm.close();
finish('open-pool');
