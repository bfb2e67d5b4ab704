/**
 * A worker thread that decodes batches of images into attribute rows (decode.ts), so the engine's
 * event loop only scatters the results. Tar file descriptors stay open for the worker's life.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeBatch, type DecodeBatch } from './decode.js';

sharp.cache(false);
const { tars, concurrency } = workerData as { tars: string[]; concurrency?: number };
if (concurrency) sharp.concurrency(concurrency);
const fds = new Map<number, number>();
let closed = false;

// `{ close: true }`: close the tars (descriptors belong to the process, not to this thread), then reply
parentPort?.on('message', (batch: DecodeBatch | { close: true }) => {
  if ('close' in batch) {
    closed = true;
    for (const fd of fds.values()) fs.closeSync(fd);
    fds.clear();
    parentPort!.postMessage({ closed: true });
    return;
  }
  decodeBatch(batch, tars, fds, () => closed).then(
    (r) => parentPort!.postMessage(r, [r.values.buffer as ArrayBuffer]),
    (e: unknown) => parentPort!.postMessage({ id: batch.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
