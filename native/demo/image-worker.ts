/**
 * A worker thread that draws and encodes batches of demo images, so the main thread only
 * collects JPEGs and writes tars. Each image has its own seeded stream, so which worker draws
 * it does not change a byte.
 */
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { encodeBatch, type ImageBatch } from './image-batch.js';

sharp.cache(false);

parentPort?.on('message', (batch: ImageBatch) => {
  encodeBatch(batch).then(
    (jpegs) => parentPort!.postMessage({ id: batch.id, jpegs }, jpegs.map((j) => j.buffer as ArrayBuffer)),
    (e: unknown) => parentPort!.postMessage({ id: batch.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
