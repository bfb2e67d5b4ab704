/**
 * Synthetic CLIP features with planted structure, for the demo pool.
 *
 * Each model space (B/32: 512 dims, L/14: 768) has random unit directions: a common image
 * direction and a common text direction (CLIP's "modality gap": images and captions live in two
 * cones), one per topic and per subtopic, one per junk-caption cluster and per language. An image
 * row is the sum of its topic and subtopic directions plus Gaussian noise, normalised; a caption
 * starts the same way in text space (`t0`), and is then tilted toward its image so that the cosine
 * hits a target score:  txt = normalise(lambda * img + t0)  with
 *   lambda = -c0 + s * sqrt((1 - c0^2) / (1 - s^2)),   c0 = <img, t0>,
 * which solves <img, txt> = s exactly. Rows are stored as float16; the score reported is the
 * float32 of the float64 dot product of the stored float16 rows, so it equals what anyone
 * recomputes from the npz.
 *
 * Noise comes from a fixed bank of Gaussians read at two random offsets per vector (their sum,
 * scaled, is Gaussian again): ~20x cheaper than fresh Box-Muller draws, which matters at 1M rows.
 */
import { f16Table, f32BitsToF16 } from '../formats/float16.js';
import { TEXT_CLUSTERS } from './captions.js';
import { Rng } from './rng.js';
import { LANGUAGES, TOPICS } from './topics.js';

export const SUBTOPICS = 8;
export type ModelName = 'b32' | 'l14';
export const MODEL_DIMS: Record<ModelName, number> = { b32: 512, l14: 768 };

const BANK_BITS = 18;
const BANK = 1 << BANK_BITS;

// Weights of the parts (before normalisation). The noise vector has norm ~1.
const IMG = { common: 0.5, topic: 0.55, sub: 0.4, noise: 0.55 };
const TXT = { common: 0.5, topic: 0.55, sub: 0.3, lang: 0.45, noise: 0.55 };

function unitVectors(rng: Rng, count: number, dim: number): Float32Array {
  const out = new Float32Array(count * dim);
  for (let c = 0; c < count; c++) {
    let n = 0;
    for (let d = 0; d < dim; d++) {
      const v = rng.normal();
      out[c * dim + d] = v;
      n += v * v;
    }
    const inv = 1 / Math.sqrt(n);
    for (let d = 0; d < dim; d++) out[c * dim + d] *= inv;
  }
  return out;
}

/** The planted directions of one model space. */
class Space {
  readonly dim: number;
  /** per (topic, subtopic): the mean image vector (common + topic + subtopic parts) */
  readonly imgMean: Float32Array;
  /** per (text cluster, subtopic): the mean caption vector */
  readonly txtMean: Float32Array;
  /** per language: a direction added to non-English captions */
  readonly lang: Float32Array;

  constructor(seed: number, model: ModelName) {
    const dim = (this.dim = MODEL_DIMS[model]);
    const rng = new Rng(seed, 'directions', model);
    const T = TOPICS.length;
    const commonImg = unitVectors(rng, 1, dim);
    const commonTxt = unitVectors(rng, 1, dim);
    const topicImg = unitVectors(rng, T, dim);
    const subImg = unitVectors(rng, T * SUBTOPICS, dim);
    const topicTxt = unitVectors(rng, TEXT_CLUSTERS, dim);
    const subTxt = unitVectors(rng, TEXT_CLUSTERS * SUBTOPICS, dim);
    this.lang = unitVectors(rng, LANGUAGES.length, dim);
    // Text topics lean toward their image topics a little, so that captions of a topic are
    // nearer to its images than to others' even before the per-sample tilt.
    for (let t = 0; t < T; t++) {
      for (let d = 0; d < dim; d++) topicTxt[t * dim + d] = 0.8 * topicTxt[t * dim + d] + 0.6 * topicImg[t * dim + d];
    }
    this.imgMean = new Float32Array(T * SUBTOPICS * dim);
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < SUBTOPICS; k++) {
        const o = (t * SUBTOPICS + k) * dim;
        for (let d = 0; d < dim; d++) {
          this.imgMean[o + d] = IMG.common * commonImg[d] + IMG.topic * topicImg[t * dim + d] + IMG.sub * subImg[o + d];
        }
      }
    }
    this.txtMean = new Float32Array(TEXT_CLUSTERS * SUBTOPICS * dim);
    for (let c = 0; c < TEXT_CLUSTERS; c++) {
      for (let k = 0; k < SUBTOPICS; k++) {
        const o = (c * SUBTOPICS + k) * dim;
        for (let d = 0; d < dim; d++) {
          this.txtMean[o + d] = TXT.common * commonTxt[d] + TXT.topic * topicTxt[c * dim + d] + TXT.sub * subTxt[o + d];
        }
      }
    }
  }
}

export interface PairSpec {
  topic: number;
  subtopic: number;
  textCluster: number;
  /** index into LANGUAGES, or -1 for English */
  lang: number;
  /** target cosine */
  score: number;
}

/**
 * Writes feature rows into caller-owned float16 (bit pattern) arrays and returns the scores.
 */
export class FeatureSynth {
  private readonly spaces: Record<ModelName, Space>;
  private readonly bank: Float32Array;
  private readonly f16: Float32Array;
  private readonly u = new Float64Array(768);
  private readonly v = new Float64Array(768);
  private readonly f32 = new Float32Array(1);
  private readonly f32bits = new Uint32Array(this.f32.buffer);

  constructor(seed: number) {
    this.spaces = { b32: new Space(seed, 'b32'), l14: new Space(seed, 'l14') };
    const rng = new Rng(seed, 'noise-bank');
    this.bank = new Float32Array(BANK + 1024);
    for (let i = 0; i < this.bank.length; i++) this.bank[i] = rng.normal();
    this.f16 = f16Table();
  }

  private toF16(src: Float64Array, dim: number, out: Uint16Array, at: number): void {
    const f = this.f32;
    const bits = this.f32bits;
    for (let d = 0; d < dim; d++) {
      f[0] = src[d];
      out[at + d] = f32BitsToF16(bits[0]);
    }
  }

  /** Fill `x` with mean + noise and normalise it. */
  private draw(rng: Rng, x: Float64Array, mean: Float32Array, meanAt: number, dim: number, noise: number, extra?: Float32Array, extraAt = 0, extraW = 0): void {
    const bank = this.bank;
    const o1 = rng.u32() & (BANK - 1);
    const o2 = rng.u32() & (BANK - 1);
    const s = noise / Math.sqrt(2 * dim);
    let n = 0;
    if (extra) {
      for (let d = 0; d < dim; d++) {
        const val = mean[meanAt + d] + extraW * extra[extraAt + d] + s * (bank[o1 + d] + bank[o2 + d]);
        x[d] = val;
        n += val * val;
      }
    } else {
      for (let d = 0; d < dim; d++) {
        const val = mean[meanAt + d] + s * (bank[o1 + d] + bank[o2 + d]);
        x[d] = val;
        n += val * val;
      }
    }
    const inv = 1 / Math.sqrt(n);
    for (let d = 0; d < dim; d++) x[d] *= inv;
  }

  /**
   * One image/caption pair in `model`'s space, written as float16 rows at `row` of `img` and
   * `txt` (row-major, model dim wide). With `copyImageFrom` (a row of `img`), the image row is a
   * copy of that one (a duplicate image). Returns the score: float32 of the dot of the stored rows.
   */
  pair(model: ModelName, rng: Rng, spec: PairSpec, img: Uint16Array, txt: Uint16Array, row: number, copyImageFrom = -1): number {
    const sp = this.spaces[model];
    const dim = sp.dim;
    const u = this.u;
    const v = this.v;
    const t = this.f16;
    const at = row * dim;
    if (copyImageFrom >= 0) {
      img.copyWithin(at, copyImageFrom * dim, copyImageFrom * dim + dim);
      let n = 0;
      for (let d = 0; d < dim; d++) {
        u[d] = t[img[at + d]];
        n += u[d] * u[d];
      }
      const inv = 1 / Math.sqrt(n);
      for (let d = 0; d < dim; d++) u[d] *= inv;
    } else {
      this.draw(rng, u, sp.imgMean, (spec.topic * SUBTOPICS + spec.subtopic) * dim, dim, IMG.noise);
      this.toF16(u, dim, img, at);
    }
    const tAt = (spec.textCluster * SUBTOPICS + spec.subtopic) * dim;
    if (spec.lang >= 0) this.draw(rng, v, sp.txtMean, tAt, dim, TXT.noise, sp.lang, spec.lang * dim, TXT.lang);
    else this.draw(rng, v, sp.txtMean, tAt, dim, TXT.noise);
    let c0 = 0;
    for (let d = 0; d < dim; d++) c0 += u[d] * v[d];
    const s = Math.max(-0.9, Math.min(0.9, spec.score));
    const lambda = -c0 + s * Math.sqrt((1 - c0 * c0) / (1 - s * s));
    let n = 0;
    for (let d = 0; d < dim; d++) {
      const val = lambda * u[d] + v[d];
      v[d] = val;
      n += val * val;
    }
    const inv = 1 / Math.sqrt(n);
    for (let d = 0; d < dim; d++) v[d] *= inv;
    this.toF16(v, dim, txt, at);
    let dot = 0;
    for (let d = 0; d < dim; d++) dot += t[img[at + d]] * t[txt[at + d]];
    return Math.fround(dot);
  }
}
