/**
 * CLIP models on disk: a folder with `sieve-model.json`, `image.onnx` and `text.onnx`
 * (docs/embed.md says how to make them). Input and output names, types and shapes are read from the
 * sessions, never assumed; anything that does not fit is a bad-input error naming the file and the
 * tensor. Nothing is ever downloaded.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type * as ortTypes from 'onnxruntime-node';
import { badInput } from '../errors.js';
import { createSession, type ConcreteProvider, type ProviderName, type SessionOptions } from './providers.js';
import { CONTEXT_LENGTH } from './tokenizer.js';

export interface ModelSpec {
  name: string;
  image_size: number;
  mean: [number, number, number];
  std: [number, number, number];
  embedding_dim: number;
  /** whether the encoders' outputs are already L2-normalised (Sieve normalises them when not) */
  normalized: boolean;
  /** which DataComp feature and score columns the model reproduces */
  arch?: 'b32' | 'l14';
}

export const MODEL_FILE = 'sieve-model.json';

/** Read and check `sieve-model.json`; every problem names the file and the field. */
export function readModelSpec(dir: string): ModelSpec {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw badInput(abs, 'no such model folder (a folder with sieve-model.json, image.onnx and text.onnx)');
  const file = path.join(abs, MODEL_FILE);
  if (!fs.existsSync(file)) throw badInput(file, 'missing: a model folder describes its encoders in sieve-model.json (see docs/embed.md)');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw badInput(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badInput(file, 'must hold a JSON object');
  const o = raw as Record<string, unknown>;
  const bad = (field: string, what: string) => badInput(`${file}: ${field}`, what);
  if (typeof o.name !== 'string' || !o.name.trim()) throw bad('name', 'must be a non-empty string');
  const int = (field: string, lo: number, hi: number) => {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(field, `must be an integer in ${lo}..${hi}, got ${JSON.stringify(v)}`);
    return v;
  };
  const triple = (field: string, positive: boolean) => {
    const v = o[field];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
      throw bad(field, `must be 3 ${positive ? 'positive ' : ''}numbers (one per RGB channel), got ${JSON.stringify(v)}`);
    }
    return v as [number, number, number];
  };
  const spec: ModelSpec = {
    name: o.name.trim(),
    image_size: int('image_size', 8, 4096),
    mean: triple('mean', false),
    std: triple('std', true),
    embedding_dim: int('embedding_dim', 1, 65536),
    normalized: (() => {
      if (typeof o.normalized !== 'boolean') throw bad('normalized', `must be true or false, got ${JSON.stringify(o.normalized)}`);
      return o.normalized;
    })(),
  };
  if (o.arch !== undefined && o.arch !== null) {
    if (o.arch !== 'b32' && o.arch !== 'l14') throw bad('arch', `must be "b32" or "l14" (the DataComp columns the model reproduces), got ${JSON.stringify(o.arch)}`);
    spec.arch = o.arch;
  }
  return spec;
}

/** A short stable id of the model (spec + encoder files' sizes and mtimes): resumed work must match it. */
export function modelId(dir: string, spec: ModelSpec, files: string[]): string {
  const h = crypto.createHash('sha256').update(JSON.stringify(spec));
  for (const f of files) {
    const st = fs.statSync(f);
    h.update(`${path.basename(f)}\0${st.size}\0${Math.round(st.mtimeMs)}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** Feature names for a model: DataComp's (`l14_img`, `l14_txt`) when it has an arch, else from its name. */
export function featureNames(spec: ModelSpec): { image: string; text: string } {
  const base = spec.arch ?? `clip_${spec.name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'model'}`;
  return { image: `${base}_img`, text: `${base}_txt` };
}

type Dims = readonly (number | string)[];
type ElemType = 'float32' | 'float16' | 'int64' | 'int32';

export interface EncoderIO {
  file: string;
  session: ortTypes.InferenceSession;
  /** the main input (pixel_values / input_ids) and its element type */
  input: string;
  inputType: ElemType;
  /** attention_mask, when the graph has one */
  mask?: string;
  maskType?: ElemType;
  output: string;
  outputType: ElemType;
  /** a batch size fixed by the graph (inputs padded to it), or null when dynamic */
  fixedBatch: number | null;
  /** text: the token context length the graph wants */
  contextLength?: number;
}

function metaOf(session: ortTypes.InferenceSession, which: 'input' | 'output'): { name: string; type: string; shape: Dims }[] {
  const list = which === 'input' ? session.inputMetadata : session.outputMetadata;
  return list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] }));
}

const fmt = (shape: Dims) => `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d ? d : '?')).join(',')}]`;
const dimIs = (d: number | string | undefined, n: number) => typeof d !== 'number' || d < 0 || d === n;
const fixed = (d: number | string | undefined) => (typeof d === 'number' && d > 0 ? d : null);

function pickOutput(file: string, session: ortTypes.InferenceSession, preferred: string[], dim: number): { name: string; type: ElemType } {
  const outs = metaOf(session, 'output');
  const ok = outs.filter((o) => (o.type === 'float32' || o.type === 'float16') && o.shape.length === 2);
  const chosen = preferred.map((p) => ok.find((o) => o.name === p)).find(Boolean) ?? (ok.length === 1 ? ok[0] : ok.find((o) => o.shape[1] === dim));
  if (!chosen) {
    throw badInput(file, `no output of shape [N,${dim}] (float32/float16); the graph's outputs are ${outs.map((o) => `"${o.name}" ${o.type} ${fmt(o.shape)}`).join(', ')}`);
  }
  if (!dimIs(chosen.shape[1], dim)) {
    throw badInput(file, `output "${chosen.name}" has shape ${fmt(chosen.shape)} but sieve-model.json says embedding_dim ${dim}`);
  }
  return { name: chosen.name, type: chosen.type as ElemType };
}

/** Check an image encoder's signature against the spec. */
export function describeImageEncoder(file: string, session: ortTypes.InferenceSession, spec: ModelSpec): EncoderIO {
  const ins = metaOf(session, 'input');
  const floats = ins.filter((i) => i.type === 'float32' || i.type === 'float16');
  const input = ins.find((i) => i.name === 'pixel_values') ?? (floats.length === 1 ? floats[0] : undefined);
  if (!input) throw badInput(file, `needs one float input "pixel_values" [N,3,H,W]; the graph's inputs are ${ins.map((i) => `"${i.name}" ${i.type} ${fmt(i.shape)}`).join(', ')}`);
  const others = ins.filter((i) => i !== input);
  if (others.length) throw badInput(file, `has inputs besides "${input.name}" (${others.map((i) => `"${i.name}"`).join(', ')}): an image encoder takes only the pixels`);
  if (input.type !== 'float32' && input.type !== 'float16') throw badInput(file, `input "${input.name}" is ${input.type}, expected float32 (or float16)`);
  const s = input.shape;
  const n = spec.image_size;
  if (s.length !== 4 || !dimIs(s[1], 3) || !dimIs(s[2], n) || !dimIs(s[3], n)) {
    throw badInput(file, `input "${input.name}" has shape ${fmt(s)} but sieve-model.json says image_size ${n}: expected [N,3,${n},${n}]`);
  }
  const out = pickOutput(file, session, ['image_embeds', 'image_features', 'embeddings', 'embeds'], spec.embedding_dim);
  return { file, session, input: input.name, inputType: input.type as ElemType, output: out.name, outputType: out.type, fixedBatch: fixed(s[0]) };
}

/** Check a text encoder's signature against the spec. */
export function describeTextEncoder(file: string, session: ortTypes.InferenceSession, spec: ModelSpec): EncoderIO {
  const ins = metaOf(session, 'input');
  const ints = ins.filter((i) => i.type === 'int64' || i.type === 'int32');
  const input = ins.find((i) => i.name === 'input_ids') ?? ints.find((i) => !/mask/i.test(i.name));
  if (!input) throw badInput(file, `needs an int64 input "input_ids" [N,${CONTEXT_LENGTH}]; the graph's inputs are ${ins.map((i) => `"${i.name}" ${i.type} ${fmt(i.shape)}`).join(', ')}`);
  if (input.type !== 'int64' && input.type !== 'int32') throw badInput(file, `input "${input.name}" is ${input.type}, expected int64 token ids`);
  if (input.shape.length !== 2) throw badInput(file, `input "${input.name}" has shape ${fmt(input.shape)}, expected [N,${CONTEXT_LENGTH}]`);
  const ctx = fixed(input.shape[1]) ?? CONTEXT_LENGTH;
  if (ctx < 3) throw badInput(file, `input "${input.name}" has a context of ${ctx} tokens: too short for CLIP`);
  const mask = ins.find((i) => i !== input && /mask/i.test(i.name));
  const others = ins.filter((i) => i !== input && i !== mask);
  if (others.length) throw badInput(file, `has inputs Sieve cannot fill: ${others.map((i) => `"${i.name}" ${i.type} ${fmt(i.shape)}`).join(', ')} (expected input_ids and optionally attention_mask)`);
  if (mask && (mask.type !== 'int64' && mask.type !== 'int32' && mask.type !== 'float32')) throw badInput(file, `input "${mask.name}" is ${mask.type}, expected int64`);
  if (mask && (mask.shape.length !== 2 || !dimIs(mask.shape[1], ctx))) throw badInput(file, `input "${mask.name}" has shape ${fmt(mask.shape)}, expected [N,${ctx}]`);
  const out = pickOutput(file, session, ['text_embeds', 'text_features', 'embeddings', 'embeds'], spec.embedding_dim);
  return {
    file,
    session,
    input: input.name,
    inputType: input.type as ElemType,
    mask: mask?.name,
    maskType: mask?.type as ElemType | undefined,
    output: out.name,
    outputType: out.type,
    fixedBatch: fixed(input.shape[0]),
    contextLength: ctx,
  };
}

export interface ClipModel {
  dir: string;
  spec: ModelSpec;
  id: string;
  image?: EncoderIO;
  text?: EncoderIO;
  /** the provider the sessions run on, and why not the asked one */
  provider: ConcreteProvider;
  fallback?: string;
  release(): Promise<void>;
}

export interface LoadOptions extends SessionOptions {
  what: 'image' | 'text' | 'both';
  provider?: ProviderName;
}

/** Open a model folder's encoders (only those `what` needs) on the asked provider. */
export async function loadClipModel(dir: string, opts: LoadOptions): Promise<ClipModel> {
  const abs = path.resolve(dir);
  const spec = readModelSpec(abs);
  const want = { image: opts.what !== 'text', text: opts.what !== 'image' };
  const files = { image: path.join(abs, 'image.onnx'), text: path.join(abs, 'text.onnx') };
  for (const k of ['image', 'text'] as const) {
    if (want[k] && !fs.existsSync(files[k])) throw badInput(files[k], `missing: the ${k} encoder of ${spec.name} (see docs/embed.md)`);
  }
  const model: ClipModel = {
    dir: abs,
    spec,
    id: modelId(abs, spec, [files.image, files.text].filter((f) => fs.existsSync(f))),
    provider: 'cpu',
    async release() {
      await this.image?.session.release();
      await this.text?.session.release();
    },
  };
  let provider: ProviderName = opts.provider ?? 'auto';
  for (const k of ['image', 'text'] as const) {
    if (!want[k]) continue;
    let choice;
    try {
      choice = await createSession(files[k], provider, opts);
    } catch (e) {
      const msg = (e as Error).message;
      if (/did not start/.test(msg)) throw badInput(files[k], msg);
      throw badInput(files[k], `onnxruntime cannot load it: ${msg.split('\n')[0]}`);
    }
    if (choice.fallback) model.fallback = choice.fallback;
    model.provider = choice.provider;
    provider = choice.provider; // the second encoder goes where the first went, without a second try
    try {
      model[k] = k === 'image' ? describeImageEncoder(files[k], choice.session, spec) : describeTextEncoder(files[k], choice.session, spec);
    } catch (e) {
      await choice.session.release();
      await model.release();
      throw e;
    }
  }
  return model;
}
