/**
 * Drawing and encoding demo images in batches: run in worker threads (image-worker.ts) or, where
 * workers cannot start, in this thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeJpeg, renderScene } from './images.js';
import { Rng } from './rng.js';
import { TOPICS } from './topics.js';

export interface ImageJob {
  /** row index in the shard (part of the image's random stream) */
  i: number;
  topic: number;
  w: number;
  h: number;
  faces: number[][];
}

export interface ImageBatch {
  id: number;
  seed: number;
  shard: number;
  jobs: ImageJob[];
}

/** How many encodes one thread keeps in flight in sharp's thread pool. */
const IN_FLIGHT = 3;

/** Draw and encode every job of a batch; JPEGs come back in job order, each in its own buffer. */
export async function encodeBatch(batch: ImageBatch): Promise<Uint8Array[]> {
  const out: Uint8Array[] = new Array(batch.jobs.length);
  const pending: Promise<void>[] = [];
  for (let k = 0; k < batch.jobs.length; k++) {
    const job = batch.jobs[k];
    const rng = new Rng(batch.seed, 'image', batch.shard, job.i);
    const px = renderScene(rng, TOPICS[job.topic], job.w, job.h, job.faces);
    // copy out of sharp's buffer so the bytes can be transferred between threads
    pending.push(encodeJpeg(px, job.w, job.h).then((b) => void (out[k] = new Uint8Array(b))));
    if (pending.length >= IN_FLIGHT) await pending.shift();
  }
  await Promise.all(pending);
  return out;
}

interface Reply {
  id: number;
  jpegs?: Uint8Array[];
  error?: string;
}

/** A few image workers, fed round-robin; falls back to this thread if workers cannot start. */
export class ImageEncoders {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (j: Uint8Array[]) => void; reject: (e: Error) => void }>();
  private next = 0;
  private failed: Error | null = null;

  constructor(count = Math.max(1, Math.min(4, availableParallelism()))) {
    const script = new URL('./image-worker.js', import.meta.url);
    // (run from TypeScript sources, e.g. under a loader, there is no compiled worker: stay in-thread)
    if (script.protocol !== 'file:' || !existsSync(fileURLToPath(script))) return;
    try {
      for (let i = 0; i < count; i++) {
        const w = new Worker(script);
        w.on('message', (r: Reply) => {
          const p = this.waiting.get(r.id);
          if (!p) return;
          this.waiting.delete(r.id);
          if (r.error !== undefined) p.reject(new Error(`image worker: ${r.error}`));
          else p.resolve(r.jpegs!);
        });
        w.on('error', (e) => this.fail(e));
        this.workers.push(w);
      }
    } catch {
      void this.close();
    }
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  /** How many batches to keep queued so that every worker stays busy. */
  get depth(): number {
    return Math.max(2, this.workers.length * 2);
  }

  encode(batch: ImageBatch): Promise<Uint8Array[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.workers.length === 0) return encodeBatch(batch);
    const w = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve, reject) => {
      this.waiting.set(batch.id, { resolve, reject });
      w.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
