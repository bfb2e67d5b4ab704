/**
 * Running the encoders on batches: pixels or token ids in, L2-normalised float32 embeddings out.
 * Shared by the pool pipeline, text queries and the bench.
 */
import * as ort from 'onnxruntime-node';
import { f16ToF32, f32ToF16 } from '../formats/float16.js';
import type { ClipModel, EncoderIO } from './model.js';
import { ClipTokenizer } from './tokenizer.js';

/** Scale each row of `x` (n x dim) to unit length; zero or NaN rows become NaN. */
export function l2normalize(x: Float32Array, dim: number): void {
  for (let r = 0; r < x.length / dim; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[r * dim + j] * x[r * dim + j];
    const inv = s > 0 && Number.isFinite(s) ? 1 / Math.sqrt(s) : NaN;
    for (let j = 0; j < dim; j++) x[r * dim + j] *= inv;
  }
}

function outputFloats(io: EncoderIO, t: ort.Tensor, n: number, dim: number): Float32Array {
  const dims = t.dims;
  if (dims.length !== 2 || dims[0] < n || dims[1] !== dim) {
    throw new Error(`${io.file}: output "${io.output}" came back with shape [${dims.join(',')}], expected [${n},${dim}]`);
  }
  const data = t.type === 'float16' ? f16ToF32(t.data as Uint16Array) : (t.data as Float32Array);
  return Float32Array.from(data.subarray(0, n * dim));
}

/**
 * Run the image encoder on `n` preprocessed images (n x 3 x S x S floats, CHW). A graph with a fixed
 * batch size gets zero-padded batches of that size.
 */
export async function runImageEncoder(model: ClipModel, pixels: Float32Array, n: number): Promise<Float32Array> {
  const io = model.image;
  if (!io) throw new Error(`${model.dir}: the image encoder is not loaded`);
  const S = model.spec.image_size;
  const per = 3 * S * S;
  const dim = model.spec.embedding_dim;
  const out = new Float32Array(n * dim);
  const step = io.fixedBatch ?? n;
  for (let at = 0; at < n; at += step) {
    const m = Math.min(step, n - at);
    const rows = io.fixedBatch ?? m;
    let x: Float32Array = pixels.subarray(at * per, (at + m) * per);
    if (rows !== m) {
      const padded = new Float32Array(rows * per);
      padded.set(x);
      x = padded;
    }
    const tensor = io.inputType === 'float16' ? new ort.Tensor('float16', f32ToF16(x), [rows, 3, S, S]) : new ort.Tensor('float32', x, [rows, 3, S, S]);
    const result = await io.session.run({ [io.input]: tensor });
    const y = outputFloats(io, result[io.output], m, dim);
    for (const t of Object.values(result)) t.dispose?.();
    out.set(y, at * dim);
  }
  if (!model.spec.normalized) l2normalize(out, dim);
  return out;
}

/** Token ids (and the attention mask) of texts, as the text encoder's input types want them. */
export function tokenizeBatch(io: EncoderIO, texts: string[], rows: number): { ids: ort.Tensor; mask?: ort.Tensor } {
  const ctx = io.contextLength ?? 77;
  const tok = ClipTokenizer.get();
  const ids = io.inputType === 'int32' ? new Int32Array(rows * ctx) : new BigInt64Array(rows * ctx);
  const lengths = new Int32Array(rows);
  texts.forEach((t, i) => {
    lengths[i] = tok.tokenize(t, ctx, ids, i * ctx).length;
  });
  const out: { ids: ort.Tensor; mask?: ort.Tensor } = {
    ids: ids instanceof Int32Array ? new ort.Tensor('int32', ids, [rows, ctx]) : new ort.Tensor('int64', ids, [rows, ctx]),
  };
  if (io.mask) {
    const t = io.maskType;
    const mask = t === 'int32' ? new Int32Array(rows * ctx) : t === 'float32' ? new Float32Array(rows * ctx) : new BigInt64Array(rows * ctx);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < lengths[i]; j++) {
        if (mask instanceof BigInt64Array) mask[i * ctx + j] = 1n;
        else mask[i * ctx + j] = 1;
      }
    }
    out.mask =
      mask instanceof BigInt64Array ? new ort.Tensor('int64', mask, [rows, ctx]) : mask instanceof Int32Array ? new ort.Tensor('int32', mask, [rows, ctx]) : new ort.Tensor('float32', mask, [rows, ctx]);
  }
  return out;
}

/** Run the text encoder on texts (tokenized as CLIP does); n x dim normalised embeddings. */
export async function runTextEncoder(model: ClipModel, texts: string[]): Promise<Float32Array> {
  const io = model.text;
  if (!io) throw new Error(`${model.dir}: the text encoder is not loaded`);
  const dim = model.spec.embedding_dim;
  const n = texts.length;
  const out = new Float32Array(n * dim);
  const step = io.fixedBatch ?? Math.max(1, n);
  for (let at = 0; at < n; at += step) {
    const part = texts.slice(at, at + step);
    const rows = io.fixedBatch ?? part.length;
    const { ids, mask } = tokenizeBatch(io, part, rows);
    const feeds: Record<string, ort.Tensor> = { [io.input]: ids };
    if (io.mask && mask) feeds[io.mask] = mask;
    const result = await io.session.run(feeds);
    out.set(outputFloats(io, result[io.output], part.length, dim), at * dim);
    for (const t of Object.values(result)) t.dispose?.();
  }
  if (!model.spec.normalized) l2normalize(out, dim);
  return out;
}
