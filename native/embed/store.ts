/**
 * Row-aligned float16 features written chunk by chunk, resumable (DESIGN.md, Data).
 *
 * While a feature is being computed it lives in `embed/<name>.f16.partial` (N x D float16, written at
 * each chunk's offset), with `embed/<name>.state.json` saying which chunks are finished and
 * `embed/<name>.failures.jsonl` listing the rows that could not be embedded and why. A chunk counts as
 * finished only after its rows and failures are on disk (fsync) and the state file has been replaced
 * atomically, so a crash or a cancel loses at most the chunks in flight; a restart with the same
 * pool fingerprint, model and chunk size skips the finished ones. When every chunk is finished the
 * file moves to `features/<name>.f16` (+ `.json`) and is registered in `features/computed.json`, where
 * `pool.feature(name)` finds it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FeatureInfo } from '../api.js';
import { f32ToF16 } from '../formats/float16.js';
import { writeFileAtomic } from '../pool/workspace.js';
import { featureFile, registerComputedFeature, type ComputedFeature } from '../pool/features.js';

const STATE_VERSION = 1;

interface State {
  version: number;
  name: string;
  poolFingerprint: string;
  modelId: string;
  rows: number;
  dim: number;
  chunkRows: number;
  /** one character per chunk: '1' finished, '0' not */
  done: string;
  /** rows with a feature (not NaN), per finished chunk */
  present: number[];
}

export interface Failure {
  row: number;
  reason: string;
}

export interface StoreKey {
  name: string;
  poolFingerprint: string;
  modelId: string;
  rows: number;
  dim: number;
  chunkRows: number;
}

export class FeatureStore {
  readonly chunks: number;
  private done: Uint8Array;
  private readonly dataFile: string;
  private readonly stateFile: string;
  private readonly failuresFile: string;
  private fd: number;
  /** chunks that were already finished when the store was opened */
  readonly resumed: number;

  private constructor(
    readonly ws: string,
    readonly key: StoreKey,
    done: Uint8Array,
    private readonly present: number[],
  ) {
    const dir = path.join(ws, 'embed');
    this.dataFile = path.join(dir, `${key.name}.f16.partial`);
    this.stateFile = path.join(dir, `${key.name}.state.json`);
    this.failuresFile = path.join(dir, `${key.name}.failures.jsonl`);
    this.chunks = Math.ceil(key.rows / key.chunkRows);
    this.done = done;
    this.resumed = done.reduce((n, d) => n + d, 0);
    this.fd = fs.openSync(this.dataFile, 'r+');
  }

  /** Open the store: resume a matching unfinished one, or start afresh. */
  static open(ws: string, key: StoreKey): FeatureStore {
    const dir = path.join(ws, 'embed');
    fs.mkdirSync(dir, { recursive: true });
    const dataFile = path.join(dir, `${key.name}.f16.partial`);
    const stateFile = path.join(dir, `${key.name}.state.json`);
    const failuresFile = path.join(dir, `${key.name}.failures.jsonl`);
    const chunks = Math.ceil(key.rows / key.chunkRows);
    let done = new Uint8Array(chunks);
    let present = new Array<number>(chunks).fill(0);
    let resume = false;
    try {
      const s = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as State;
      resume =
        s.version === STATE_VERSION &&
        s.poolFingerprint === key.poolFingerprint &&
        s.modelId === key.modelId &&
        s.rows === key.rows &&
        s.dim === key.dim &&
        s.chunkRows === key.chunkRows &&
        s.done.length === chunks &&
        fs.existsSync(dataFile) &&
        fs.statSync(dataFile).size === key.rows * key.dim * 2;
      if (resume) {
        done = Uint8Array.from(s.done, (c) => (c === '1' ? 1 : 0));
        present = s.present.length === chunks ? s.present : present;
      }
    } catch {
      resume = false;
    }
    if (!resume) {
      fs.rmSync(stateFile, { force: true });
      fs.rmSync(failuresFile, { force: true });
      const fd = fs.openSync(dataFile, 'w');
      fs.ftruncateSync(fd, key.rows * key.dim * 2);
      fs.closeSync(fd);
    }
    const store = new FeatureStore(ws, key, done, present);
    if (!resume) store.saveState();
    return store;
  }

  isDone(chunk: number): boolean {
    return this.done[chunk] === 1;
  }

  /** Rows [start, end) of a chunk. */
  chunkRange(chunk: number): [number, number] {
    const start = chunk * this.key.chunkRows;
    return [start, Math.min(this.key.rows, start + this.key.chunkRows)];
  }

  /** Rows of the chunks already finished. */
  rowsDone(): number {
    let n = 0;
    for (let c = 0; c < this.chunks; c++) if (this.done[c]) n += this.chunkRange(c)[1] - this.chunkRange(c)[0];
    return n;
  }

  pendingChunks(): number[] {
    const out: number[] = [];
    for (let c = 0; c < this.chunks; c++) if (!this.done[c]) out.push(c);
    return out;
  }

  private saveState(): void {
    const s: State = { version: STATE_VERSION, ...this.key, done: Array.from(this.done, (d) => (d ? '1' : '0')).join(''), present: this.present };
    writeFileAtomic(this.stateFile, JSON.stringify(s));
  }

  /** Write a finished chunk (float32 rows, NaN rows for failures) durably, then mark it done. */
  writeChunk(chunk: number, data: Float32Array, failures: Failure[]): void {
    const [start, end] = this.chunkRange(chunk);
    const dim = this.key.dim;
    if (data.length !== (end - start) * dim) throw new Error(`chunk ${chunk}: ${data.length} values for ${end - start} rows of ${dim}`);
    const half = f32ToF16(data);
    fs.writeSync(this.fd, new Uint8Array(half.buffer, half.byteOffset, half.byteLength), 0, half.byteLength, start * dim * 2);
    fs.fsyncSync(this.fd);
    // one line per chunk: a redone chunk's line replaces the earlier one when read
    fs.appendFileSync(this.failuresFile, `${JSON.stringify({ chunk, failures })}\n`);
    let present = 0;
    for (let r = 0; r < end - start; r++) if (!Number.isNaN(data[r * dim])) present++;
    this.present[chunk] = present;
    this.done[chunk] = 1;
    this.saveState();
  }

  complete(): boolean {
    return this.done.every((d) => d === 1);
  }

  /** Every failure recorded so far, by row. */
  failures(): Failure[] {
    return readFailures(this.ws, this.key.name);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Move the finished file into `features/`, count the rows present, register it. The entry's other
   * fields (model, kind, arch) come from the caller.
   */
  finish(entry: Omit<ComputedFeature, keyof FeatureInfo | 'poolFingerprint' | 'modelId' | 'created' | 'failed'>): ComputedFeature {
    if (!this.complete()) throw new Error(`${this.key.name}: not every chunk is finished`);
    this.close();
    const info = { name: this.key.name, dim: this.key.dim, dtype: 'float16' as const };
    const out = featureFile(this.ws, info);
    const present = this.present.reduce((a, b) => a + b, 0);
    const failed = this.failures();
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.renameSync(this.dataFile, out);
    const feature: FeatureInfo = { ...info, rowsPresent: present };
    writeFileAtomic(`${out}.json`, JSON.stringify(feature));
    const computed: ComputedFeature = {
      ...feature,
      ...entry,
      poolFingerprint: this.key.poolFingerprint,
      modelId: this.key.modelId,
      created: new Date().toISOString(),
      failed: failed.length,
    };
    registerComputedFeature(this.ws, computed);
    // the failures stay for the report; the state goes
    fs.rmSync(this.stateFile, { force: true });
    // a cached map of an older version of this feature is stale
    for (const suffix of ['.json', '.positions.f32', '.clusters.u16']) fs.rmSync(path.join(this.ws, 'map', `${this.key.name}${suffix}`), { force: true });
    return computed;
  }
}

/** The failures of a feature (embed/<name>.failures.jsonl: one line per chunk, the last line of a
 * chunk wins), by row. */
export function readFailures(ws: string, name: string): Failure[] {
  const file = path.join(ws, 'embed', `${name}.failures.jsonl`);
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const byChunk = new Map<number, Failure[]>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as { chunk: number; failures: Failure[] };
      byChunk.set(c.chunk, c.failures);
    } catch {
      // a torn last line from a crash: that chunk was not marked done, so it is redone
    }
  }
  return [...byChunk.values()].flat().sort((a, b) => a.row - b.row);
}
