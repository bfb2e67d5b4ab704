/**
 * Filters (issue: the spec language and DataComp's baselines): each baseline evaluated on the
 * `--no-images` demo pools of 100k and 1M rows. "first" includes the per-pool caches the filter
 * builds once (language ID, text stats, feature copy); "warm" is a second evaluation with those
 * caches (the stored decision is bypassed: evaluate() is timed, not the decision lookup).
 * Goals at 1M: none/basic/clip_score/laion2b < 2 s warm, text_based < 10 s, image_based K=1000 < 30 s.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from '../native/pool/pool.js';
import { evaluate } from '../native/filters/evaluate.js';
import { canonicalSpec } from '../native/filters/spec.js';
import { ensureLanguages } from '../native/filters/text/langid.js';
import { firstSynsetOffset } from '../native/filters/text/wordnet.js';
import { writeNpy } from '../native/formats/npy.js';
import { readFeatureRows } from '../native/pool/features.js';
import { benchPool, BENCH_DIR, finish, report, timed } from './common.js';

const sizes = (process.argv[2] ?? '100000,1000000').split(',').map(Number);
const only = process.argv[3]?.split(',');

for (const n of sizes) {
  const { dir } = await benchPool(n);
  const ws = path.join(BENCH_DIR, `ws-${n}`);
  const pool = await Pool.open(dir, { workspace: ws });
  const tag = `${n / 1000}k`;
  for (const detector of ['fasttext', 'cld3'] as const) {
    const t = await timed(() => ensureLanguages(pool.db, { detector }));
    report(`${tag} language ID ${detector} (once per pool)`, t.seconds, 's');
  }
  // targets for image_based: 1,000 pool rows' features stand in for ImageNet's (no download here)
  const targets = path.join(BENCH_DIR, `targets-${n}.npy`);
  if (!fs.existsSync(targets)) {
    const { file, info } = await pool.feature('l14_img');
    const x = readFeatureRows(file, info, 0, 1000);
    writeNpy(targets, '<f4', [1000, info.dim], new Uint8Array(x.buffer));
  }
  // text_based needs a synset list; ImageNet's is a download, so the bench lists the first synsets of
  // common nouns (its speed hardly depends on the list)
  const synsets = path.join(BENCH_DIR, 'bench-synsets.txt');
  if (!fs.existsSync(synsets)) {
    const words = 'dog cat car truck beach mountain flower pizza pasta bread cup mug bag shoe dress shirt tree bird horse boat plane train bicycle chair table phone laptop camera guitar ball tennis runner street city bridge house window door lamp book clock watch'.split(' ');
    const ids = words.map((w) => firstSynsetOffset(w)).filter((x): x is number => x !== null);
    fs.writeFileSync(synsets, ids.map((o) => `n${String(o).padStart(8, '0')}`).join('\n') + '\n');
  }
  const specs: Record<string, unknown> = {
    none: { filter: 'none' },
    basic: { filter: 'basic' },
    clip_score_l14_30: { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
    clip_score_b32_t025: { filter: 'clip_score', arch: 'b32', threshold: 0.25 },
    laion2b: { filter: 'laion2b' },
    text_based: { filter: 'text_based', synsets },
    image_based_k1000: { filter: 'image_based', targets, k: 1000 },
    datacomp_1b: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.3 }, { filter: 'image_based', targets, k: 1000 }] },
  };
  for (const [name, spec] of Object.entries(specs)) {
    if (only && !only.includes(name)) continue;
    const canonical = canonicalSpec(spec);
    const first = await timed(() => evaluate(canonical, { pool }));
    let kept = 0;
    for (const k of first.value.keep) kept += k;
    report(`${tag} ${name} first`, first.seconds, `s (kept ${kept} of ${n})`);
    if (!name.startsWith('image_based') && name !== 'datacomp_1b') {
      const warm = await timed(() => evaluate(canonical, { pool }));
      report(`${tag} ${name} warm`, warm.seconds, 's');
    }
  }
  pool.close();
}
finish('filters');
