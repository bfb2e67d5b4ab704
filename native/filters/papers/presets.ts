/**
 * The papers' recipes as named specs (issue 9, item 7): each with its citation, what the paper
 * reports at which scale, and the files a user must supply (`assets`: ImageNet target embeddings,
 * DataComp's centroids). `presetSpec(name, {rows, assets})` fills in the files and the pool-size
 * dependent numbers (MetaCLIP's t) and returns a spec for `canonicalSpec` / `runFilter`; a missing
 * file is an error that names the asset to supply. The CLI's `--preset` and the app's menu read
 * this list.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SieveError } from '../../errors.js';
import type { PresetInfo } from '../../api.js';
import { DEFAULT_ENTRIES_FILE } from './metaclip-entries.js';

/** A recipe as stored: what it tells the user is PresetInfo's, the spec is before any scaling to a pool. */
export interface Preset extends Pick<PresetInfo, 'name' | 'title' | 'citation' | 'reports'> {
  /** the spec, with `{"asset": NAME}` where a user file goes (see presetSpec) */
  spec: unknown;
  /** params that need a user file, by asset name */
  assets: string[];
  /** what each asset is, for the message when it is missing */
  assetHelp: Record<string, string>;
}

const IMAGENET_TARGET =
  'a .npy of ImageNet-1k train image embeddings from the pool\'s CLIP (L/14: 1,281,167 x 768, float16 or float32; DataComp\'s in1k_clip_vit_l14_*.pt "image_features", saved as .npy)';

const CLIP_L14_30 = { filter: 'clip_score', arch: 'l14', fraction: 0.3 };

export const PRESETS: Preset[] = [
  {
    name: 'datacomp-small-best',
    title: 'DataComp small: best baseline (CLIP L/14 top 30%)',
    citation: 'DataComp (Gadre et al., 2023), Table 3; baselines/apply_filter.py',
    reports: 'small scale (12.8M pool, 12.8M samples seen, ViT-B/32): 3.8M samples kept, ImageNet 5.1%, average over 38 tasks 17.3%',
    spec: CLIP_L14_30,
    assets: [],
    assetHelp: {},
  },
  {
    name: 'datacomp-1b',
    title: 'DataComp-1B recipe (CLIP L/14 top 30%, then image-based)',
    citation: 'DataComp (Gadre et al., 2023), Table 3; baselines/apply_filter.py image_based_intersect_clip_score',
    reports:
      'xlarge scale (12.8B pool, ViT-L/14): DataComp-1B (1.4B samples), ImageNet 79.2%, average over 38 tasks 66.3%; medium 29.7% / 32.8%, large 63.1% / 53.7%',
    spec: { then: [CLIP_L14_30, { filter: 'image_based', targets: { asset: 'targets' }, centroids: { asset: 'centroids' } }] },
    assets: ['targets', 'centroids'],
    assetHelp: {
      targets: IMAGENET_TARGET,
      centroids:
        'a K x 768 .npy of pool centroids: DataComp clustered the whole pool\'s L/14 image features (100,000 centroids at xlarge); in a then, Sieve\'s k would cluster only the survivors, so the recipe needs them given',
    },
  },
  {
    name: 'vas',
    title: 'VAS (ImageNet-1k): CLIP L/14 top 44%, then VAS to 30% of the pool',
    citation: 'Wang et al., "Variance Alignment Score" (arXiv 2402.02055); ypwang61/negCLIPLoss_NormSim run2.sh (DataComp small: --fraction 0.44 --fraction_vas 0.3 --target_variance_name imagenet-1k)',
    reports:
      'VAS with the CLIP score: +1.3% average over 38 tasks over the CLIP-score baseline on DataComp medium, +2.5% on VTAB for CC12M (abstract). Here, as the code: the CLIP step keeps 44% of the pool, VAS keeps 30% of the pool',
    spec: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas', arch: 'l14', target: { asset: 'target' }, pool_fraction: 0.3 }] },
    assets: ['target'],
    assetHelp: { target: `${IMAGENET_TARGET}; or a 768 x 768 Σ (then set target_kind "matrix" in the spec)` },
  },
  {
    name: 'vas-pool',
    title: 'VAS (pool as target): CLIP L/14 top 44%, then VAS to 30% of the pool, Σ of the survivors',
    citation: 'Wang et al., "Variance Alignment Score" (arXiv 2402.02055); ypwang61/negCLIPLoss_NormSim baselines/vas2.py',
    reports: 'the paper\'s "traindata" prior (Σ from the pool itself) at DataComp small settings; VAS-D is its dynamic form',
    spec: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas', arch: 'l14', target: 'pool', pool_fraction: 0.3 }] },
    assets: [],
    assetHelp: {},
  },
  {
    name: 'vas-d',
    title: 'VAS-D: CLIP L/14 top 44%, then VAS-D to 30% of the pool',
    citation: 'Wang et al., "Variance Alignment Score" (arXiv 2402.02055); ypwang61/negCLIPLoss_NormSim run2.sh (DataComp small "reproduce": --fraction 0.44 --fraction_vas 0.3 --num_iters 168)',
    reports: 'DataComp small setting of the code\'s run script: CLIP 44% of the pool, then VAS-D (Σ from 10% samples, 168 rounds) down to 30% of the pool',
    spec: { then: [{ filter: 'clip_score', arch: 'l14', fraction: 0.44 }, { filter: 'vas_d', arch: 'l14', pool_fraction: 0.3, num_iters: 168, sample: 0.1, seed: 0 }] },
    assets: [],
    assetHelp: {},
  },
  {
    name: 'negclip-normsim',
    title: 'negCLIPLoss top 30%, then NormSim∞ (targets) to 20% of the pool',
    citation:
      'Wang et al., "CLIPLoss and Norm-Based Data Selection Methods for Multimodal Contrastive Learning" (arXiv 2405.19547); ypwang61/negCLIPLoss_NormSim run_medium3.sh subset cs_new_f0.3_val_train_fvas0.2_st0_an10_norm100 (negCLIPLoss 30%, then NormSim∞ on validation + train targets to 20%, 10 batchings)',
    reports:
      'DataComp medium (128M pool): +5.3% ImageNet-1k and +2.8% average over 38 tasks over the best baseline that uses only OpenAI\'s CLIP-L/14 (abstract)',
    spec: {
      then: [
        { filter: 'negclip', arch: 'l14', fraction: 0.3, batch: 32768, temperature: 0.01, average: 10, seed: 0 },
        { filter: 'normsim', arch: 'l14', target: { asset: 'target' }, p: 'inf', pool_fraction: 0.2 },
      ],
    },
    assets: ['target'],
    assetHelp: {
      target:
        "a .npy of target image embeddings (L/14, m x 768): the paper's NormSim target is ImageNet-1k train plus the downstream tasks' training images; ImageNet-1k alone works too",
    },
  },
  {
    name: 'metaclip',
    title: 'MetaCLIP curation, t scaled to the pool',
    citation: 'Xu et al., "Demystifying CLIP Data" (MetaCLIP, 2023); facebookresearch/MetaCLIP metaclip/substr_matching.py, metaclip/metaclip1/balancing.py',
    reports:
      'MetaCLIP-400M (t = 20,000): ViT-B/16 ImageNet zero-shot 70.8% vs 68.3% with OpenAI\'s data; 1B: 72.4%; ViT-H 80.5%. Here t = 20,000 x N / 400M (at least 1), and the shipped entries are only the WordNet part of the paper\'s ~500k',
    spec: { filter: 'metaclip', entries: { asset: 'entries' }, t: { poolScaled: 20000, paperRows: 400e6 }, seed: 0 },
    assets: ['entries'],
    assetHelp: { entries: `a text file of metadata entries, one a line (default: the list Sieve ships, ${DEFAULT_ENTRIES_FILE})` },
  },
];

/** Assets that have a default file shipped with Sieve. */
const DEFAULT_ASSETS: Record<string, string> = { entries: DEFAULT_ENTRIES_FILE };

export function findPreset(name: string): Preset {
  const p = PRESETS.find((x) => x.name === name);
  if (!p) throw new SieveError('bad_input', `unknown preset ${JSON.stringify(name)}; known: ${PRESETS.map((x) => x.name).join(', ')}`);
  return p;
}

/**
 * The spec of a preset for a pool of `rows` rows, with its asset files (paths, resolved against the
 * working directory). Throws, naming the asset and what it is, when a needed file is not given or
 * does not exist.
 */
export function presetSpec(name: string, opts: { rows: number; assets?: Record<string, string> }): unknown {
  const preset = findPreset(name);
  const given = opts.assets ?? {};
  for (const k of Object.keys(given)) {
    if (!preset.assets.includes(k)) {
      throw new SieveError('bad_input', `preset ${name}: unknown asset ${JSON.stringify(k)}${preset.assets.length ? ` (it takes ${preset.assets.join(', ')})` : ' (it takes none)'}`);
    }
  }
  const files: Record<string, string> = {};
  for (const a of preset.assets) {
    const file = given[a] ?? DEFAULT_ASSETS[a];
    if (!file) throw new SieveError('bad_input', `preset ${name} needs the file "${a}": ${preset.assetHelp[a]}`);
    const abs = path.resolve(file);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) {
      throw new SieveError('bad_input', `preset ${name}: the file for "${a}" is missing: ${abs} (${preset.assetHelp[a]})`);
    }
    files[a] = abs;
  }
  return fillSpec(preset.spec, opts.rows, (a) => files[a]);
}

/**
 * A preset's spec with its placeholders filled: `{"asset": NAME}` by `asset(NAME)`, and
 * `{"poolScaled": V, "paperRows": R}` by V scaled from the paper's R rows to `rows` (at least 1;
 * V itself when `rows` is null).
 */
function fillSpec(spec: unknown, rows: number | null, asset: (name: string) => unknown): unknown {
  const fill = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.asset === 'string' && Object.keys(o).length === 1) return asset(o.asset);
      if (typeof o.poolScaled === 'number' && typeof o.paperRows === 'number') {
        return rows === null ? o.poolScaled : Math.max(1, Math.round((o.poolScaled * rows) / o.paperRows));
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fill(x)]));
    }
    return v;
  };
  return fill(spec);
}

/** The JSON paths of a spec's `{"asset": NAME}` placeholders, by asset name. */
function assetPaths(spec: unknown, at = '$', out: Record<string, string[]> = {}): Record<string, string[]> {
  if (Array.isArray(spec)) spec.forEach((x, i) => assetPaths(x, `${at}[${i}]`, out));
  else if (spec && typeof spec === 'object') {
    const o = spec as Record<string, unknown>;
    if (typeof o.asset === 'string' && Object.keys(o).length === 1) (out[o.asset] ??= []).push(at);
    else for (const [k, x] of Object.entries(o)) assetPaths(x, `${at}.${k}`, out);
  }
  return out;
}

/**
 * Every preset as the app shows it (SieveApi.listPresets): the spec scaled to a pool of `rows` rows
 * (the paper's numbers when null), assets left as `{"asset": NAME}` placeholders, and per asset what
 * to supply, where it goes in the spec, and whether Sieve ships a file for it.
 */
export function presetInfos(rows: number | null): PresetInfo[] {
  return PRESETS.map((p) => {
    const paths = assetPaths(p.spec);
    return {
      name: p.name,
      title: p.title,
      citation: p.citation,
      reports: p.reports,
      spec: fillSpec(p.spec, rows, (name) => ({ asset: name })),
      poolRows: rows,
      assets: p.assets.map((name) => {
        const def = DEFAULT_ASSETS[name] ?? null;
        return { name, help: p.assetHelp[name], defaultFile: def, supplied: def !== null && fs.existsSync(def), paths: paths[name] ?? [] };
      }),
    };
  });
}
