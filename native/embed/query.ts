/**
 * Text queries against a pool's image features: the text encoder embeds the query (or several
 * prompts, e.g. zero-shot attribute prompts for the audit), and every row gets the cosine similarity
 * of its image feature with it, as a row-aligned Float32Array (NaN where the row has no feature).
 * The matrix product runs in onnxruntime (native/tensor), chunk by chunk over the feature file.
 * Loaded text encoders are kept for the next query (`releaseQueryModels` frees them).
 */
import type { Pool } from '../pool/pool.js';
import { badInput } from '../errors.js';
import { readFeatureRows } from '../pool/features.js';
import { graphSession, ort } from '../tensor/session.js';
import { loadClipModel, modelId, readModelSpec, type ClipModel } from './model.js';
import { runTextEncoder } from './encode.js';
import { targetFeatures } from './pipeline.js';
import type { ProviderName } from './providers.js';
import path from 'node:path';
import fs from 'node:fs';

export interface TextQueryOptions {
  /** the model folder; its text encoder embeds the query */
  model: string;
  provider?: ProviderName;
  /** the image feature to compare with (default: the model's own, computed or shipped) */
  feature?: string;
}

export interface TextSimilarity {
  /** rows x texts, row-major: similarity[row * texts + k] (one text: simply per row) */
  similarity: Float32Array;
  texts: number;
  feature: string;
  model: string;
  provider: string;
  seconds: number;
}

const loaded = new Map<string, Promise<ClipModel>>();

async function textModel(dir: string, provider: ProviderName): Promise<ClipModel> {
  const abs = path.resolve(dir);
  const spec = readModelSpec(abs);
  const files = [path.join(abs, 'image.onnx'), path.join(abs, 'text.onnx')].filter((f) => fs.existsSync(f));
  const key = `${abs}|${provider}|${modelId(abs, spec, files)}`;
  let m = loaded.get(key);
  if (!m) {
    m = loadClipModel(abs, { what: 'text', provider });
    loaded.set(key, m);
    m.catch(() => loaded.delete(key));
  }
  return m;
}

/** Release the text encoders kept for queries. */
export async function releaseQueryModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  for (const m of all) await (await m.catch(() => null))?.release();
}

/** Embed texts with a model's text encoder: n x D, L2-normalised. */
export async function embedTexts(modelDir: string, texts: string[], provider: ProviderName = 'auto'): Promise<{ embeddings: Float32Array; dim: number; model: ClipModel }> {
  const model = await textModel(modelDir, provider);
  return { embeddings: await runTextEncoder(model, texts), dim: model.spec.embedding_dim, model };
}

/** The image feature a model's text embeddings are compared with. */
export function queryFeature(pool: Pool, model: ClipModel, asked?: string): string {
  if (asked) {
    if (!pool.hasFeature(asked)) throw badInput(asked, 'the pool has no such feature');
    return asked;
  }
  const own = targetFeatures(pool, model).image;
  if (pool.hasFeature(own)) return own;
  const base = model.spec.arch ? `${model.spec.arch}_img` : null;
  if (base && pool.hasFeature(base)) return base;
  throw badInput(pool.dir, `no image features of ${model.spec.name} in this pool: run \`sieve embed ${pool.dir} --model ${model.dir}\` first`);
}

/** Per-row cosine similarity of the rows' image features with each text. */
export async function textsSimilarity(pool: Pool, texts: string[], opts: TextQueryOptions): Promise<TextSimilarity> {
  const t0 = performance.now();
  if (!Array.isArray(texts) || !texts.length || !texts.every((t) => typeof t === 'string')) throw badInput('query', 'one or more texts are needed');
  const { embeddings, dim, model } = await embedTexts(opts.model, texts, opts.provider ?? 'auto');
  const feature = queryFeature(pool, model, opts.feature);
  const { file, info } = await pool.feature(feature);
  if (info.dim !== dim) throw badInput(feature, `has ${info.dim} columns but ${model.spec.name} embeds into ${dim}: not the same model`);
  const k = texts.length;
  // Y = (X / |X|) Q, in onnxruntime: X [n, d] per chunk, Q [d, k]
  const q = new Float32Array(dim * k);
  for (let t = 0; t < k; t++) for (let j = 0; j < dim; j++) q[j * k + t] = embeddings[t * dim + j];
  const session = await graphSession({
    inputs: [{ name: 'x', type: 'float', shape: ['n', dim] }],
    outputs: [{ name: 'y', type: 'float', shape: ['n', k] }],
    initializers: [{ name: 'q', type: 'float', dims: [dim, k], values: q }],
    nodes: [
      { op: 'LpNormalization', inputs: ['x'], outputs: ['xn'], attrs: { axis: 1, p: 2 } },
      { op: 'MatMul', inputs: ['xn', 'q'], outputs: ['y'] },
    ],
  });
  const out = new Float32Array(pool.rows * k);
  try {
    const step = Math.max(1, Math.floor((1 << 22) / dim));
    for (let r0 = 0; r0 < pool.rows; r0 += step) {
      const n = Math.min(step, pool.rows - r0);
      const x = readFeatureRows(file, info, r0, n);
      const res = await session.run({ x: new ort.Tensor('float32', x, [n, dim]) });
      out.set(res.y.data as Float32Array, r0 * k);
    }
  } finally {
    await session.release();
  }
  // a NaN row stays NaN (LpNormalization of NaN is NaN); a zero row gives 0/0 = NaN as well
  return { similarity: out, texts: k, feature, model: model.spec.name, provider: model.provider, seconds: (performance.now() - t0) / 1000 };
}

/** Per-row cosine similarity of the rows' image features with one text query. */
export async function textQuerySimilarity(pool: Pool, query: string, opts: TextQueryOptions): Promise<TextSimilarity> {
  if (typeof query !== 'string' || !query.trim()) throw badInput('query', 'a non-empty text is needed');
  return textsSimilarity(pool, [query], opts);
}

/**
 * Zero-shot classification of every row's image among prompts (e.g. "a photo of a woman", "a photo
 * of a man"): the index of the most similar prompt (0xffff where the row has no feature) and the
 * softmax probabilities at CLIP's logit scale 100.
 */
export async function zeroShot(pool: Pool, prompts: string[], opts: TextQueryOptions): Promise<{ best: Uint16Array; probabilities: Float32Array; prompts: number; feature: string }> {
  const sim = await textsSimilarity(pool, prompts, opts);
  const k = prompts.length;
  const best = new Uint16Array(pool.rows).fill(0xffff);
  const probabilities = new Float32Array(pool.rows * k).fill(NaN);
  for (let r = 0; r < pool.rows; r++) {
    const row = sim.similarity.subarray(r * k, (r + 1) * k);
    if (!row.every(Number.isFinite)) continue;
    let m = -Infinity;
    let arg = 0;
    row.forEach((v, i) => {
      if (v > m) {
        m = v;
        arg = i;
      }
    });
    let z = 0;
    for (let i = 0; i < k; i++) z += Math.exp(100 * (row[i] - m));
    for (let i = 0; i < k; i++) probabilities[r * k + i] = Math.exp(100 * (row[i] - m)) / z;
    best[r] = arg;
  }
  return { best, probabilities, prompts: k, feature: sim.feature };
}
