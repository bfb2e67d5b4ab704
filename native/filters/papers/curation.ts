/**
 * MetaCLIP curation and duplicate removal: catalogue entries and implementations (metaclip.ts,
 * dedup.ts). The descriptions say where Sieve deviates from the papers' code.
 */
import type { FilterKind } from '../kind.js';
import type { LeafFn } from './leaf.js';
import { DEFAULT_ENTRIES_FILE } from './metaclip-entries.js';
import { metaclipFilter, type MetaclipParams } from './metaclip.js';
import { dedupFilter, type DedupParams } from './dedup.js';

export const KINDS: FilterKind[] = [
  {
    name: 'metaclip',
    title: 'MetaCLIP curation',
    description:
      "Keeps captions that contain a metadata entry (MetaCLIP's spaced, case-sensitive sub-string match), balanced so each entry keeps about t of its captions (prob t / max(count, t) per entry); draws are seeded per (seed, uid, entry), where MetaCLIP's code draws unseeded.",
    citation: 'MetaCLIP (Xu et al., 2023, "Demystifying CLIP Data"): metaclip/substr_matching.py, metaclip/metaclip1/balancing.py',
    params: {
      entries: {
        type: 'path',
        default: DEFAULT_ENTRIES_FILE,
        description:
          'metadata entries: a text file, one a line (or a JSON list, as metadata.json). Default: the shipped WordNet 3.0 synset names + "0".."99" (86,654 entries), built as MetaCLIP builds its WordNet part; the paper\'s list has ~500k (Wikipedia terms too)',
      },
      t: {
        type: 'int',
        min: 1,
        required: true,
        description: 'balancing threshold: an entry matched by more than t captions keeps about t of them (paper: 20,000 for 400M pairs, 170,000 for 2.5B); scale it with the pool',
      },
      seed: { type: 'int', min: 0, max: 4294967295, default: 0, description: 'seed of the balancing draws (each draw is a hash of seed, uid and entry)' },
    },
  },
  {
    name: 'dedup',
    // 2: the LSH graph defined bucket by bucket (every candidate verified) and onnxruntime batches
    // restarting at every shard, so a rule's counts and a row's cosine no longer depend on visiting order
    revision: 2,
    title: 'Duplicate removal',
    description:
      'Drops exact duplicates (same sha256) or near duplicates (image-feature cosine >= threshold; groups = connected components; LSH misses some pairs: at the defaults it finds a pair at cosine 0.95 56% of the time, at 0.99 99.4%, identical 100%), keeping the highest CLIP score then smallest uid; and/or drops rows near an evaluation set (exact).',
    citation:
      'DataComp (Gadre et al., 2023) removed evaluation-set near duplicates from CommonPool (with an image-descriptor model; Sieve uses the CLIP features); the pool dedup follows no single paper\'s code',
    params: {
      by: { type: 'enum', values: ['sha256', 'features'], description: 'sha256: exact duplicates by the sha256 column; features: near duplicates by image-feature cosine' },
      threshold: {
        type: 'number',
        min: 0,
        minExclusive: true,
        max: 1,
        default: 0.95,
        description: 'cosine at or above which two images (or an image and an evaluation image) count as duplicates',
      },
      eval: { type: 'path', description: 'M x D float .npy of evaluation-set image features: drop rows within the threshold of any (exact; costs 2 n M D flops)' },
      arch: { type: 'enum', values: ['b32', 'l14'], default: 'l14', description: 'which image features (l14_img, b32_img) and which CLIP score ranks the rows of a group' },
      index: {
        type: 'enum',
        values: ['lsh', 'exact'],
        default: 'lsh',
        description: 'lsh: random-projection buckets, every candidate verified exactly (misses some pairs near the threshold); exact: every pair (n^2 d, small pools)',
      },
      tables: { type: 'int', min: 1, max: 64, default: 16, description: 'LSH tables: a pair at cosine c is found with probability 1 - (1 - (1 - acos(c)/pi)^bits)^tables' },
      bits: { type: 'int', min: 1, max: 32, default: 28, description: 'sign bits per LSH table (more: fewer far candidates, lower recall per table)' },
      seed: { type: 'int', min: 0, default: 0, description: 'seed of the LSH hyperplanes' },
    },
    check: (p) => (p.by === undefined && p.eval === undefined ? 'filter dedup needs "by" (sha256 or features), "eval" (a .npy of evaluation features), or both' : null),
  },
];

export const LEAVES: Record<string, LeafFn> = {
  metaclip: (p, ctx, active) => metaclipFilter(p as unknown as MetaclipParams, ctx, active),
  dedup: (p, ctx, active) => dedupFilter(p as unknown as DedupParams, ctx, active),
};
