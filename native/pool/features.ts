/**
 * Row-aligned feature matrices in the workspace (DESIGN.md, Data): `features/<name>.f16` (or
 * `.f32`), N x D row-major, copied from the shards' npz arrays on first use. Rows of shards that lack
 * the array hold NaN, so a row is "present" iff its first value is not NaN.
 *
 * The dtype is read from each npz member's header (datacomp.md §1: never assume it); the workspace
 * keeps float16 when every shard has float16 and float32 otherwise.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listNpz, npzRowChunks, type NpzEntry } from '../formats/npz.js';
import { f16ToF32 } from '../formats/float16.js';
import { badInput } from '../errors.js';
import type { FeatureInfo } from '../api.js';
import { writeFileAtomic } from './workspace.js';

/** What the shards' npz files hold, per array name: enough to plan the copy. */
export interface FeatureSource {
  name: string;
  dim: number;
  dtype: 'float16' | 'float32';
  /** per shard index: true when that shard's npz has this array with the shard's row count */
  shards: boolean[];
}

const DTYPES: Record<string, 'float16' | 'float32'> = { '<f2': 'float16', '<f4': 'float32' };

/** Survey the npz files (headers only). Arrays that do not fit their shard are skipped with a warning. */
export function surveyFeatures(
  shards: { npz: string | null; rows: number }[],
): { sources: FeatureSource[]; warnings: string[] } {
  const byName = new Map<string, FeatureSource>();
  const warnings: string[] = [];
  shards.forEach((s, i) => {
    if (!s.npz) return;
    for (const e of listNpz(s.npz)) {
      const { shape, descr, fortranOrder } = e.header;
      if (shape.length !== 2) continue; // not a feature matrix (e.g. a dedup descriptor)
      const dtype = typeof descr === 'string' ? DTYPES[descr] : undefined;
      if (!dtype || fortranOrder) {
        warnings.push(`${s.npz}: array ${e.name} has dtype ${JSON.stringify(descr)}${fortranOrder ? ' in Fortran order' : ''}; only little-endian float16/float32 in C order is read, so it is skipped`);
        continue;
      }
      if (shape[0] !== s.rows) {
        warnings.push(`${s.npz}: array ${e.name} has ${shape[0]} rows but the parquet has ${s.rows}; skipped`);
        continue;
      }
      const f = byName.get(e.name) ?? { name: e.name, dim: shape[1], dtype, shards: shards.map(() => false) };
      if (f.dim !== shape[1]) {
        warnings.push(`${s.npz}: array ${e.name} has ${shape[1]} columns but other shards have ${f.dim}; skipped`);
        continue;
      }
      if (dtype === 'float32') f.dtype = 'float32';
      f.shards[i] = true;
      byName.set(e.name, f);
    }
  });
  return { sources: [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1)), warnings };
}

export function featureFile(ws: string, f: { name: string; dtype: 'float16' | 'float32' }): string {
  return path.join(ws, 'features', `${f.name}.${f.dtype === 'float16' ? 'f16' : 'f32'}`);
}

const F16_NAN = 0x7e00;

/**
 * Copy one feature from every shard's npz into its flat workspace file (temp file + rename), chunk by
 * chunk. Returns the FeatureInfo; a file that is already there is reused.
 */
export async function materializeFeature(
  ws: string,
  source: FeatureSource,
  shards: { npz: string | null; rows: number; rowStart: number }[],
  onRows?: (done: number, total: number) => void,
): Promise<FeatureInfo> {
  const out = featureFile(ws, source);
  const metaFile = `${out}.json`;
  if (fs.existsSync(out) && fs.existsSync(metaFile)) return JSON.parse(fs.readFileSync(metaFile, 'utf8')) as FeatureInfo;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const total = shards.reduce((s, x) => s + x.rows, 0);
  const elem = source.dtype === 'float16' ? 2 : 4;
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  let rowsPresent = 0;
  let done = 0;
  try {
    for (let i = 0; i < shards.length; i++) {
      const s = shards[i];
      const base = s.rowStart * source.dim * elem;
      if (!source.shards[i] || !s.npz) {
        // NaN rows for a shard without this array, written in blocks
        const block = 4096;
        for (let r = 0; r < s.rows; r += block) {
          const n = Math.min(block, s.rows - r);
          const nan = source.dtype === 'float16' ? new Uint16Array(n * source.dim).fill(F16_NAN) : new Float32Array(n * source.dim).fill(NaN);
          fs.writeSync(fd, new Uint8Array(nan.buffer), 0, nan.byteLength, base + r * source.dim * elem);
        }
        done += s.rows;
        onRows?.(done, total);
        continue;
      }
      const entry = listNpz(s.npz).find((e: NpzEntry) => e.name === source.name);
      if (!entry) throw badInput(s.npz, `array ${source.name} disappeared while reading`);
      const srcType = DTYPES[entry.header.descr as string];
      for await (const chunk of npzRowChunks(s.npz, entry, 8192)) {
        let bytes: Uint8Array = chunk.bytes;
        if (srcType !== source.dtype) {
          // float16 shard in a float32 workspace (mixed pools): widen exactly
          const h = new Uint16Array(chunk.bytes.buffer.slice(chunk.bytes.byteOffset, chunk.bytes.byteOffset + chunk.bytes.byteLength));
          bytes = new Uint8Array(f16ToF32(h).buffer);
        }
        fs.writeSync(fd, bytes, 0, bytes.byteLength, base + chunk.rowStart * source.dim * elem);
        done += chunk.rowCount;
        onRows?.(done, total);
      }
      rowsPresent += s.rows;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, out);
  const info: FeatureInfo = { name: source.name, dim: source.dim, dtype: source.dtype, rowsPresent };
  writeFileAtomic(metaFile, JSON.stringify(info));
  return info;
}

/** Read rows [start, start+count) of a feature file as float32 (converting float16). */
export function readFeatureRows(file: string, info: FeatureInfo, start: number, count: number): Float32Array {
  const elem = info.dtype === 'float16' ? 2 : 4;
  const buf = Buffer.alloc(count * info.dim * elem);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, buf.byteLength, start * info.dim * elem);
  } finally {
    fs.closeSync(fd);
  }
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return info.dtype === 'float16' ? f16ToF32(new Uint16Array(ab)) : new Float32Array(ab);
}

/** A feature `sieve embed` computed (native/embed), registered in `features/computed.json`. */
export interface ComputedFeature extends FeatureInfo {
  kind: 'image' | 'text';
  /** the model's name and id (spec + encoder files) */
  model: string;
  modelId: string;
  arch: 'b32' | 'l14' | null;
  /** the pool fingerprint the rows belong to: entries of another fingerprint are stale */
  poolFingerprint: string;
  created: string;
  /** rows whose image or caption could not be embedded (NaN rows) */
  failed: number;
}

function computedRegistry(ws: string): string {
  return path.join(ws, 'features', 'computed.json');
}

/** The computed features of this pool (stale entries and missing files left out). */
export function readComputedFeatures(ws: string, poolFingerprint: string): ComputedFeature[] {
  let list: ComputedFeature[];
  try {
    list = JSON.parse(fs.readFileSync(computedRegistry(ws), 'utf8')) as ComputedFeature[];
  } catch {
    return [];
  }
  return list.filter((c) => c.poolFingerprint === poolFingerprint && fs.existsSync(featureFile(ws, c)));
}

/** Add or replace a computed feature's entry (the file is already in place). */
export function registerComputedFeature(ws: string, entry: ComputedFeature): void {
  let list: ComputedFeature[] = [];
  try {
    list = JSON.parse(fs.readFileSync(computedRegistry(ws), 'utf8')) as ComputedFeature[];
  } catch {
    list = [];
  }
  list = list.filter((c) => c.name !== entry.name && c.poolFingerprint === entry.poolFingerprint);
  list.push(entry);
  fs.mkdirSync(path.dirname(computedRegistry(ws)), { recursive: true });
  writeFileAtomic(computedRegistry(ws), JSON.stringify(list, null, 1));
}
