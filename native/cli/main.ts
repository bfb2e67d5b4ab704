/**
 * `sieve`: the command line (DESIGN.md). Exit 0 on success, 2 on bad input (one line on stderr that
 * names the file, row or field), 1 on an internal error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SieveError } from '../errors.js';
import { parseArgs } from './args.js';
import { Engine } from '../engine.js';
import { startServer } from '../serve/server.js';
import { generateDemoPool } from '../demo/generate.js';
import { RENDERER_DIR, PACKAGE_ROOT } from '../paths.js';
import type { ProgressEvent } from '../api.js';
import { Pool } from '../pool/pool.js';
import { readSpecArg } from '../filters/spec.js';
import { runFilter } from '../filters/decisions.js';
import { CATALOGUE } from '../filters/catalogue.js';
import { subsetFormat, writeSubset } from '../export/subset.js';

const USAGE = `usage: sieve <command> [options]

  demo DIR [--samples N] [--seed S] [--no-images] [--shard-size N] [--force]
        write a synthetic pool in DataComp's format (parquet + npz + webdataset tars)
  open POOL [--workspace DIR] [--map]
        build (or reuse) the pool's workspace and print a JSON summary; --map also computes the map
  filter POOL --spec SPEC --out FILE [--workspace DIR]
        run a filter spec (a JSON file or inline JSON); FILE's extension picks the format: .npy
        (DataComp subset: sorted, de-duplicated uids), .parquet or .csv. Prints one JSON line.
  filters
        list the filter kinds and their parameters
  serve POOL [--port P] [--workspace DIR]
        serve the app for this pool on 127.0.0.1 and print its URL

Exit codes: 0 done, 2 bad input, 1 internal error.`;

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Progress on stderr: a rewritten line on a terminal, a line every few seconds otherwise. */
function progressPrinter(): (e: ProgressEvent) => void {
  let last = 0;
  return (e) => {
    const now = Date.now();
    const finished = e.done >= e.total;
    if (!process.stderr.isTTY) {
      if (now - last < 5000 && !finished) return;
      last = now;
      process.stderr.write(`${e.job}: ${e.message ?? ''} ${e.done}/${e.total}\n`);
      return;
    }
    if (now - last < 100 && !finished) return;
    last = now;
    const pct = e.total ? Math.floor((100 * e.done) / e.total) : 0;
    process.stderr.write(`\r\x1b[K${e.job}: ${e.message ?? ''} ${pct}%${finished ? '\n' : ''}`);
  };
}

function onePositional(command: string, positional: string[], what: string): string {
  if (positional.length !== 1) throw new SieveError('bad_input', `sieve ${command}: expected one ${what}, got ${positional.length} (see sieve --help)`);
  return positional[0];
}

async function demo(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('demo', argv, { samples: 'int', seed: 'int', 'no-images': 'bool', 'shard-size': 'int', force: 'bool' });
  const dir = onePositional('demo', positional, 'output folder');
  const samples = (flags.samples as number | undefined) ?? 20000;
  if (samples < 1) throw new SieveError('bad_input', `sieve demo: --samples must be at least 1, got ${samples}`);
  const printer = progressPrinter();
  const summary = await generateDemoPool(dir, {
    samples,
    seed: (flags.seed as number | undefined) ?? 0,
    images: !flags['no-images'],
    shardSize: flags['shard-size'] as number | undefined,
    force: Boolean(flags.force),
    onProgress: (done, total) => printer({ job: 'demo', done, total, message: 'writing samples' }),
  });
  const rate = Math.round(summary.samples / summary.seconds);
  process.stdout.write(
    `${JSON.stringify({ dir: path.resolve(dir), samples: summary.samples, shards: summary.shards, images: summary.withImages, seconds: +summary.seconds.toFixed(2), samples_per_second: rate })}\n`,
  );
}

async function open(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('open', argv, { workspace: 'string', map: 'bool' });
  const pool = onePositional('open', positional, 'pool folder');
  const engine = new Engine({ workspace: flags.workspace as string | undefined });
  engine.onProgress(progressPrinter());
  try {
    const info = await engine.openPool(pool);
    let map: Record<string, unknown> | undefined;
    if (flags.map) {
      const t0 = performance.now();
      const m = await engine.getMap();
      const seconds = (performance.now() - t0) / 1000;
      map =
        'unavailable' in m
          ? { unavailable: m.unavailable }
          : { seconds: +seconds.toFixed(2), feature: m.feature, clusters: m.clusterCount, payload_bytes: m.positions.byteLength + m.clusters.byteLength, explained: m.explainedVariance };
    }
    const { shards, ...rest } = info;
    process.stdout.write(`${JSON.stringify({ ...rest, shards: shards.length, ...(map ? { map } : {}) })}\n`);
  } finally {
    engine.close();
  }
}

async function filter(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('filter', argv, { spec: 'string', out: 'string', workspace: 'string' });
  const poolDir = onePositional('filter', positional, 'pool folder');
  if (!flags.spec) throw new SieveError('bad_input', 'sieve filter: --spec SPEC is required (a JSON file or inline JSON)');
  if (!flags.out) throw new SieveError('bad_input', 'sieve filter: --out FILE is required (.npy, .parquet or .csv)');
  const out = flags.out as string;
  subsetFormat(out); // a bad extension is an error before any work
  const spec = readSpecArg(flags.spec as string);
  const t0 = performance.now();
  const pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    const decision = await runFilter(pool, spec, { onProgress: progressPrinter() });
    const written = await writeSubset(pool, decision.keep, out);
    process.stdout.write(
      `${JSON.stringify({ kept: decision.summary.kept, total: decision.summary.total, seconds: +((performance.now() - t0) / 1000).toFixed(3), filter_seconds: +decision.summary.seconds.toFixed(3), reused: decision.summary.reused, written, out: path.resolve(out) })}\n`,
    );
  } finally {
    pool.close();
  }
}

async function serve(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('serve', argv, { port: 'int', workspace: 'string' });
  const pool = onePositional('serve', positional, 'pool folder');
  if (!fs.existsSync(path.join(RENDERER_DIR, 'index.html'))) {
    throw new SieveError('internal', `the renderer is not built (${RENDERER_DIR} is empty): run npm run build`);
  }
  const engine = new Engine({ workspace: flags.workspace as string | undefined });
  engine.onProgress(progressPrinter());
  const info = await engine.openPool(pool);
  const server = await startServer({ engine, staticDir: RENDERER_DIR, port: flags.port as number | undefined });
  process.stdout.write(`Sieve is serving ${info.path} (${info.rows} samples) at ${server.url}\n`);
  // compute the map in the background so the page finds it ready
  engine.getMap().catch((e: Error) => process.stderr.write(`map: ${e.message}\n`));
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close().then(() => {
        engine.close();
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'demo':
        await demo(rest);
        return 0;
      case 'open':
        await open(rest);
        return 0;
      case 'serve':
        await serve(rest);
        return 0;
      case 'filter':
        await filter(rest);
        return 0;
      case 'filters':
        for (const k of CATALOGUE) {
          const params = Object.entries(k.params).map(([n, p]) => `${n}${p.default !== undefined ? `=${JSON.stringify(p.default)}` : ''}`);
          process.stdout.write(`${k.name}(${params.join(', ')})\n    ${k.description}\n    source: ${k.citation}\n`);
        }
        return 0;
      case '--version':
      case 'version':
        process.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new SieveError('bad_input', `unknown command ${JSON.stringify(command)} (see sieve --help)`);
    }
  } catch (e) {
    if (e instanceof SieveError && e.code !== 'internal') {
      process.stderr.write(`sieve: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`sieve: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
