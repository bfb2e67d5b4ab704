/**
 * A decode worker: reads an image's bytes (a file, or a slice of a webdataset tar), decodes it with
 * sharp and preprocesses it as CLIP does (preprocess.ts), and sends back the CHW float32 pixels
 * (transferred, not copied) with the time each step took. sharp runs one libvips thread per image
 * (`sharp.concurrency(1)`): parallelism comes from several workers with several images in flight
 * each, so the threads never exceed the cores and onnxruntime keeps its own.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { preprocessImage, type PreprocessSpec } from './preprocess.js';

export interface DecodeJob {
  id: number;
  file: string;
  offset: number;
  size: number;
}

export type DecodeReply =
  | { id: number; ok: true; pixels: Float32Array; width: number; height: number; readMs: number; decodeMs: number; preprocessMs: number }
  | { id: number; ok: false; error: string; readMs: number; decodeMs: number };

const spec = (workerData as { spec: PreprocessSpec }).spec;
sharp.concurrency(1);
sharp.cache(false);

const fds = new Map<string, number>();
function readBytes(file: string, offset: number, size: number): Uint8Array {
  let fd = fds.get(file);
  if (fd === undefined) {
    if (fds.size > 64) {
      for (const f of fds.values()) fs.closeSync(f);
      fds.clear();
    }
    fd = fs.openSync(file, 'r');
    fds.set(file, fd);
  }
  const buf = Buffer.allocUnsafe(size);
  const n = fs.readSync(fd, buf, 0, size, offset);
  if (n !== size) throw new Error(`read ${n} of ${size} bytes (truncated file?)`);
  return buf;
}

parentPort?.on('message', (job: DecodeJob) => {
  const t0 = performance.now();
  let bytes: Uint8Array;
  try {
    bytes = readBytes(job.file, job.offset, job.size);
  } catch (e) {
    parentPort?.postMessage({ id: job.id, ok: false, error: `cannot read the image: ${(e as Error).message}`, readMs: performance.now() - t0, decodeMs: 0 } satisfies DecodeReply);
    return;
  }
  const readMs = performance.now() - t0;
  preprocessImage(bytes, spec).then(
    (r) => {
      parentPort?.postMessage(
        { id: job.id, ok: true, pixels: r.pixels, width: r.width, height: r.height, readMs, decodeMs: r.decodeMs, preprocessMs: r.preprocessMs } satisfies DecodeReply,
        [r.pixels.buffer as ArrayBuffer],
      );
    },
    (e: Error) => {
      const msg = e.message || 'unreadable image';
      parentPort?.postMessage({ id: job.id, ok: false, error: `cannot decode the image: ${msg}`, readMs, decodeMs: performance.now() - t0 - readMs } satisfies DecodeReply);
    },
  );
});
