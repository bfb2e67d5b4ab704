/**
 * CLIP-architecture ONNX encoders with random weights, built in pure JS (native/tensor/onnx-graph.ts):
 * OpenAI's ViT image tower (patch conv, class token, positional embedding, ln_pre, pre-LN residual
 * attention blocks with QuickGELU MLPs, ln_post on the class token, projection) and its text tower
 * (token + positional embedding, causal blocks, ln_final, the features at the end token =
 * argmax of the ids, projection). Same shapes and operator mix as the real models, so inference speed
 * is representative; the outputs mean nothing. For the bench (bench/embed.ts) and tests of scale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildOnnxModel, type InitSpec, type NodeSpec } from '../tensor/onnx-graph.js';

export interface VitConfig {
  imageSize: number;
  patch: number;
  width: number;
  layers: number;
  heads: number;
  embedDim: number;
}

export interface TextConfig {
  context: number;
  vocab: number;
  width: number;
  layers: number;
  heads: number;
  embedDim: number;
}

/** OpenAI CLIP ViT-B/32's shapes. */
export const VIT_B32: { image: VitConfig; text: TextConfig } = {
  image: { imageSize: 224, patch: 32, width: 768, layers: 12, heads: 12, embedDim: 512 },
  text: { context: 77, vocab: 49408, width: 512, layers: 12, heads: 8, embedDim: 512 },
};

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** roughly normal(0, std): the sum of 4 uniforms, rescaled */
  fill(n: number, std: number): Float32Array {
    const out = new Float32Array(n);
    const k = std * Math.sqrt(3); // 4 uniforms in [-1,1): variance 4/3
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < 4; j++) {
        this.s ^= this.s << 13;
        this.s ^= this.s >>> 17;
        this.s ^= this.s << 5;
        v += ((this.s >>> 0) / 2 ** 32) * 2 - 1;
      }
      out[i] = (v / 2) * k;
    }
    return out;
  }
}

class GraphBuilder {
  nodes: NodeSpec[] = [];
  inits: InitSpec[] = [];
  private n = 0;
  constructor(private readonly rng: Rng) {}
  name(p: string): string {
    return `${p}_${this.n++}`;
  }
  init(name: string, dims: number[], values: ArrayLike<number>, type: 'float' | 'int64' = 'float'): string {
    this.inits.push({ name, type, dims, values });
    return name;
  }
  rand(p: string, dims: number[], std: number): string {
    return this.init(this.name(p), dims, this.rng.fill(dims.reduce((a, b) => a * b, 1), std));
  }
  const(p: string, dims: number[], v: number): string {
    return this.init(this.name(p), dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v));
  }
  ints(p: string, values: number[]): string {
    return this.init(this.name(p), [values.length], values, 'int64');
  }
  op(op: string, inputs: string[], attrs?: NodeSpec['attrs'], outputs = 1): string {
    const outs = Array.from({ length: outputs }, () => this.name(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: outs, attrs });
    return outs[0];
  }
  layerNorm(x: string, width: number): string {
    return this.op('LayerNormalization', [x, this.const('ln_w', [width], 1), this.const('ln_b', [width], 0)], { axis: -1 });
  }
  linear(x: string, inW: number, outW: number, bias = true): string {
    const y = this.op('MatMul', [x, this.rand('w', [inW, outW], 0.02)]);
    return bias ? this.op('Add', [y, this.const('b', [outW], 0)]) : y;
  }
  /** One pre-LN residual attention block on x [N, T, W]; `mask` an additive [T, T] mask or null. */
  block(x: string, width: number, heads: number, tokens: number, mask: string | null): string {
    const hd = width / heads;
    const h = this.layerNorm(x, width);
    const qkv = this.linear(h, width, 3 * width);
    const [q, k, v] = (() => {
      const parts = this.nodes.length;
      const outs = [this.name('q'), this.name('k'), this.name('v')];
      this.nodes.push({ op: 'Split', inputs: [qkv, this.ints('split', [width, width, width])], outputs: outs, attrs: { axis: -1 } });
      void parts;
      return outs;
    })();
    const shape4 = this.ints('shape', [0, tokens, heads, hd]);
    const toHeads = (t: string) => this.op('Transpose', [this.op('Reshape', [t, shape4])], { perm: [0, 2, 1, 3] });
    const qh = toHeads(q);
    const kh = this.op('Transpose', [this.op('Reshape', [k, shape4])], { perm: [0, 2, 3, 1] });
    const vh = toHeads(v);
    let s = this.op('Mul', [this.op('MatMul', [qh, kh]), this.const('scale', [1], 1 / Math.sqrt(hd))]);
    if (mask) s = this.op('Add', [s, mask]);
    const a = this.op('MatMul', [this.op('Softmax', [s], { axis: -1 }), vh]);
    const merged = this.op('Reshape', [this.op('Transpose', [a], { perm: [0, 2, 1, 3] }), this.ints('shape', [0, tokens, width])]);
    const x1 = this.op('Add', [x, this.linear(merged, width, width)]);
    const m = this.layerNorm(x1, width);
    const fc = this.linear(m, width, 4 * width);
    const gelu = this.op('Mul', [fc, this.op('Sigmoid', [this.op('Mul', [fc, this.const('qg', [1], 1.702)])])]); // QuickGELU
    return this.op('Add', [x1, this.linear(gelu, 4 * width, width)]);
  }
}

/** The image tower: pixel_values [N,3,S,S] -> image_embeds [N,D] (not normalised, as OpenAI's). */
export function buildVitImageEncoder(c: VitConfig = VIT_B32.image, seed = 1): Uint8Array {
  const g = new GraphBuilder(new Rng(seed));
  const grid = c.imageSize / c.patch;
  const tokens = grid * grid + 1;
  const conv = g.op('Conv', ['pixel_values', g.rand('conv1', [c.width, 3, c.patch, c.patch], 0.02)], { kernel_shape: [c.patch, c.patch], strides: [c.patch, c.patch] });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.ints('shape', [0, c.width, grid * grid])])], { perm: [0, 2, 1] });
  // the class token, expanded to the batch: [N, 1, W]
  const batch = g.op('Slice', [g.op('Shape', [patches]), g.ints('s', [0]), g.ints('e', [1])]);
  const clsShape = g.op('Concat', [batch, g.ints('one_w', [1, c.width])], { axis: 0 });
  const cls = g.op('Expand', [g.rand('class_embedding', [1, 1, c.width], 0.02), clsShape]);
  let x = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), g.rand('positional_embedding', [tokens, c.width], 0.01)]);
  x = g.layerNorm(x, c.width);
  for (let l = 0; l < c.layers; l++) x = g.block(x, c.width, c.heads, tokens, null);
  const first = g.op('Squeeze', [g.op('Slice', [x, g.ints('s', [0]), g.ints('e', [1]), g.ints('ax', [1])]), g.ints('ax', [1])]);
  const y = g.op('MatMul', [g.layerNorm(first, c.width), g.rand('proj', [c.width, c.embedDim], 0.02)]);
  g.nodes.push({ op: 'Identity', inputs: [y], outputs: ['image_embeds'] });
  return buildOnnxModel({
    inputs: [{ name: 'pixel_values', type: 'float', shape: ['N', 3, c.imageSize, c.imageSize] }],
    outputs: [{ name: 'image_embeds', type: 'float', shape: ['N', c.embedDim] }],
    nodes: g.nodes,
    initializers: g.inits,
  });
}

/** The text tower: input_ids [N,77] int64 -> text_embeds [N,D] (at the argmax id: the end token). */
export function buildClipTextEncoder(c: TextConfig = VIT_B32.text, seed = 2): Uint8Array {
  const g = new GraphBuilder(new Rng(seed));
  const emb = g.op('Gather', [g.rand('token_embedding', [c.vocab, c.width], 0.02), 'input_ids'], { axis: 0 });
  let x = g.op('Add', [emb, g.rand('positional_embedding', [c.context, c.width], 0.01)]);
  const mask = new Float32Array(c.context * c.context);
  for (let i = 0; i < c.context; i++) for (let j = i + 1; j < c.context; j++) mask[i * c.context + j] = -1e9;
  const causal = g.init(g.name('causal'), [c.context, c.context], mask);
  for (let l = 0; l < c.layers; l++) x = g.block(x, c.width, c.heads, c.context, causal);
  x = g.layerNorm(x, c.width);
  const eot = g.op('ArgMax', ['input_ids'], { axis: 1, keepdims: 1 }); // [N, 1]
  const at = g.op('GatherND', [x, eot], { batch_dims: 1 }); // [N, W]
  const y = g.op('MatMul', [at, g.rand('text_projection', [c.width, c.embedDim], 0.02)]);
  g.nodes.push({ op: 'Identity', inputs: [y], outputs: ['text_embeds'] });
  return buildOnnxModel({
    inputs: [{ name: 'input_ids', type: 'int64', shape: ['N', c.context] }],
    outputs: [{ name: 'text_embeds', type: 'float', shape: ['N', c.embedDim] }],
    nodes: g.nodes,
    initializers: g.inits,
  });
}

/** Write a model folder (image.onnx, text.onnx, sieve-model.json) of the ViT-B/32 shapes, random weights. */
export function writeRandomClipModel(dir: string, opts: { text?: boolean; config?: typeof VIT_B32 } = {}): void {
  const cfg = opts.config ?? VIT_B32;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'image.onnx'), buildVitImageEncoder(cfg.image));
  if (opts.text !== false) fs.writeFileSync(path.join(dir, 'text.onnx'), buildClipTextEncoder(cfg.text));
  fs.writeFileSync(
    path.join(dir, 'sieve-model.json'),
    JSON.stringify({
      name: 'random ViT-B/32 (bench)',
      image_size: cfg.image.imageSize,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
      embedding_dim: cfg.image.embedDim,
      normalized: false,
    }, null, 1),
  );
}
