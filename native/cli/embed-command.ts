/**
 * `sieve embed POOL --model DIR [--provider auto|cpu|cuda|webgpu|coreml|dml] [--batch B]
 *   [--what image|text|both] [--out DIR] [--workers N] [--chunk ROWS] [--workspace DIR]`
 *
 * CLIP image and text features of every row of a pool (a DataComp pool or any folder of images),
 * computed with onnxruntime from the encoders in DIR (docs/embed.md), resumable: run the same command
 * again after a crash or Ctrl-C and finished chunks are skipped. Progress (images/s, ETA) on stderr;
 * one JSON line on stdout at the end.
 */
import os from 'node:os';
import { SieveError } from '../errors.js';
import { parseArgs } from './args.js';
import { Pool } from '../pool/pool.js';
import type { ProgressEvent } from '../api.js';
import { embedPool, type EmbedPart } from '../embed/pipeline.js';
import { PROVIDERS, type ProviderName } from '../embed/providers.js';

// sharp decodes on libuv's thread pool (4 threads by default, shared by every decode worker): size
// it to the machine before anything uses it, so that decoding can scale over all cores.
process.env.UV_THREADPOOL_SIZE ??= String(Math.min(128, Math.max(4, os.availableParallelism() + 2)));

export const EMBED_USAGE = `  embed POOL --model DIR [--provider auto|cpu|cuda|webgpu|coreml|dml] [--batch B]
        [--what image|text|both] [--out DIR] [--workers N] [--chunk ROWS] [--workspace DIR]
        CLIP image and text features from ONNX encoders on disk (DIR: sieve-model.json, image.onnx,
        text.onnx; see docs/embed.md), row-aligned float16 in the workspace, resumable (rerun after
        an interruption); with the model's arch, the clip_<arch>_similarity_score the pool lacks.
        --out DIR also writes image.npy and text.npy (N x D float32, pool row order).`;

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** The progress line: a bar, rows done, rate and ETA; rewritten on a terminal, every 5 s otherwise. */
export function embedProgressLine(e: ProgressEvent, width = 24): string {
  const frac = e.total ? Math.min(1, e.done / e.total) : 0;
  const filled = Math.round(frac * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const rate = e.rate && e.rate > 0 ? e.rate : 0;
  const eta = rate > 0 ? (e.total - e.done) / rate : NaN;
  const unit = /_img\b|_img_/.test(e.message ?? '') ? 'img/s' : /_txt\b|_txt_/.test(e.message ?? '') ? 'captions/s' : 'rows/s';
  return `embed [${bar}] ${e.done}/${e.total} rows  ${rate ? rate.toFixed(rate < 10 ? 1 : 0) : '-'} ${unit}  ETA ${fmtDuration(eta)}  ${e.message ?? ''}`;
}

function progressPrinter(): (e: ProgressEvent) => void {
  let last = 0;
  return (e) => {
    const now = Date.now();
    const finished = e.done >= e.total;
    if (e.job !== 'embed') {
      // opening the pool: a short line per step
      if (now - last < 1000 && !finished) return;
      last = now;
      process.stderr.write(`${e.job}: ${e.message ?? ''} ${e.done}/${e.total}\n`);
      return;
    }
    if (process.stderr.isTTY) {
      if (now - last < 200 && !finished) return;
      last = now;
      process.stderr.write(`\r\x1b[K${embedProgressLine(e)}${finished ? '\n' : ''}`);
    } else {
      if (now - last < 5000 && !finished) return;
      last = now;
      process.stderr.write(`${embedProgressLine(e)}\n`);
    }
  };
}

function partLine(p: EmbedPart | undefined) {
  if (!p) return undefined;
  return {
    feature: p.feature,
    dim: p.dim,
    embedded: p.embedded,
    missing: p.missing,
    failed: p.failed,
    failures: p.failures.slice(0, 10),
    chunks: p.chunks,
    resumedChunks: p.resumedChunks,
    upToDate: p.upToDate,
    rate: +p.rate.toFixed(1),
  };
}

export async function embedCommand(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('embed', argv, {
    model: 'string',
    provider: 'string',
    batch: 'int',
    what: 'string',
    out: 'string',
    workers: 'int',
    chunk: 'int',
    workspace: 'string',
  });
  if (positional.length !== 1) throw new SieveError('bad_input', `sieve embed: expected one POOL folder, got ${positional.length} (see sieve --help)`);
  if (typeof flags.model !== 'string') throw new SieveError('bad_input', 'sieve embed: --model DIR is required (a folder with sieve-model.json, image.onnx and text.onnx; see docs/embed.md)');
  const provider = (flags.provider ?? 'auto') as string;
  if (!(PROVIDERS as readonly string[]).includes(provider)) throw new SieveError('bad_input', `sieve embed: --provider must be one of ${PROVIDERS.join(', ')}, got ${JSON.stringify(provider)}`);
  const what = (flags.what ?? 'both') as string;
  if (!['image', 'text', 'both'].includes(what)) throw new SieveError('bad_input', `sieve embed: --what must be image, text or both, got ${JSON.stringify(what)}`);
  for (const f of ['batch', 'workers', 'chunk'] as const) {
    if (flags[f] !== undefined && (flags[f] as number) < 1) throw new SieveError('bad_input', `sieve embed: --${f} must be at least 1, got ${flags[f]}`);
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const pool = await Pool.open(positional[0], { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    const t0 = performance.now();
    const r = await embedPool(pool, {
      model: flags.model,
      provider: provider as ProviderName,
      what: what as 'image' | 'text' | 'both',
      batch: flags.batch as number | undefined,
      workers: flags.workers as number | undefined,
      chunkRows: flags.chunk as number | undefined,
      out: flags.out as string | undefined,
      onProgress: progressPrinter(),
      signal: controller.signal,
      log: (line) => process.stderr.write(`embed: ${line}\n`),
    });
    for (const p of [r.image, r.text]) {
      if (p?.failed) process.stderr.write(`embed: ${p.failed} rows of ${p.feature} could not be embedded (NaN), e.g. row ${p.failures[0]?.row}: ${p.failures[0]?.reason}\n`);
    }
    const t = r.timings;
    process.stdout.write(
      `${JSON.stringify({
        pool: pool.dir,
        rows: pool.rows,
        model: r.model,
        provider: r.provider,
        fallback: r.fallback,
        image: partLine(r.image),
        text: partLine(r.text),
        score: r.score,
        out: r.out,
        seconds: +((performance.now() - t0) / 1000).toFixed(3),
        timings: { decodeMs: Math.round(t.decodeMs), preprocessMs: Math.round(t.preprocessMs), inferenceMs: Math.round(t.inferenceMs), waitMs: Math.round(t.waitMs), cpuMs: Math.round(t.cpuMs) },
      })}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    pool.close();
  }
}
