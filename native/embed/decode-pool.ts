/**
 * A pool of decode workers (decode-worker.ts). Jobs go to the least busy worker, at most
 * `inflight` per worker at once; the rest wait in order. Timings are summed for the progress line
 * and the bench (where the time goes: read, decode, preprocess).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PreprocessSpec } from './preprocess.js';
import type { DecodeJob, DecodeReply } from './decode-worker.js';

export interface DecodeStats {
  images: number;
  failed: number;
  readMs: number;
  decodeMs: number;
  preprocessMs: number;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class DecodePool {
  readonly size: number;
  readonly stats: DecodeStats = { images: 0, failed: 0, readMs: 0, decodeMs: 0, preprocessMs: 0 };
  private readonly slots: Slot[] = [];
  private readonly waiting: { job: DecodeJob; resolve: (r: DecodeReply) => void }[] = [];
  private readonly pending = new Map<number, { resolve: (r: DecodeReply) => void; slot: Slot }>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(spec: PreprocessSpec, opts: { workers?: number; inflight?: number } = {}) {
    this.size = Math.max(1, opts.workers ?? os.availableParallelism());
    const inflight = Math.max(1, opts.inflight ?? 4);
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: { spec } });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (r: DecodeReply) => this.done(r));
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (code !== 0 && !this.closed) this.fail(new Error(`a decode worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
    this.inflight = inflight;
  }

  private readonly inflight: number;
  private closed = false;

  private fail(e: Error): void {
    this.failure ??= e;
    for (const [id, p] of this.pending) p.resolve({ id, ok: false, error: `decode worker failed: ${e.message}`, readMs: 0, decodeMs: 0 });
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w.resolve({ id: w.job.id, ok: false, error: `decode worker failed: ${e.message}`, readMs: 0, decodeMs: 0 });
  }

  private done(r: DecodeReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    p.slot.busy--;
    this.stats.readMs += r.readMs;
    this.stats.decodeMs += r.decodeMs;
    if (r.ok) {
      this.stats.images++;
      this.stats.preprocessMs += r.preprocessMs;
    } else this.stats.failed++;
    p.resolve(r);
    this.pump();
  }

  private pump(): void {
    while (this.waiting.length) {
      let best: Slot | null = null;
      for (const s of this.slots) if (s.busy < this.inflight && (!best || s.busy < best.busy)) best = s;
      if (!best) return;
      const { job, resolve } = this.waiting.shift() as { job: DecodeJob; resolve: (r: DecodeReply) => void };
      best.busy++;
      this.pending.set(job.id, { resolve, slot: best });
      best.worker.postMessage(job);
    }
  }

  /** Decode and preprocess the image at `file` [offset, offset + size). Never rejects: errors are replies. */
  decode(file: string, offset: number, size: number): Promise<DecodeReply> {
    const id = this.nextId++;
    if (this.failure) return Promise.resolve({ id, ok: false, error: `decode worker failed: ${this.failure.message}`, readMs: 0, decodeMs: 0 });
    return new Promise((resolve) => {
      this.waiting.push({ job: { id, file, offset, size }, resolve });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
