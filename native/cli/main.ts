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
import { Pool } from '../pool/pool.js';
import { canonicalSpec, readSpecArg } from '../filters/spec.js';
import { runFilter } from '../filters/decisions.js';
import { CATALOGUE } from '../filters/catalogue.js';
import { exportColumns, exportFormat, exportSubset, subsetFormat } from '../export/subset.js';
import { importSubset, type ImportedSubset } from '../export/import.js';
import { DEFAULT_SHARD_SIZE, reshard, type ReshardOrder } from '../export/reshard.js';
import { checkFileTarget, checkWritableDir, refuseInsidePool } from '../export/atomic.js';
import { checkSidecar } from '../export/provenance.js';
import type { Decision } from '../filters/decisions.js';
import { progressPrinter } from './progress.js';
import { auditCommand, AUDIT_USAGE } from './audit-command.js';
import { embedCommand, EMBED_USAGE } from './embed-command.js';
import { findPreset, presetInfos, presetSpec } from '../filters/papers/presets.js';
import { CLUSTER_USAGE, clusterTaskCommand, ENGINE_FLAGS, engineOptions, filterWithEngine } from './cluster-command.js';

const USAGE = `usage: sieve <command> [options]

  demo DIR [--samples N] [--seed S] [--no-images] [--shard-size N] [--force]
        write a synthetic pool in DataComp's format (parquet + npz + webdataset tars)
  open POOL [--workspace DIR] [--map]
        build (or reuse) the pool's workspace and print a JSON summary; --map also computes the map
  filter POOL (--spec SPEC | --preset NAME [--assets NAME=FILE,...]) --out FILE [--columns C1,C2]
          [--force] [--workspace DIR]
        run a filter spec (a JSON file or inline JSON); FILE's extension picks the format: .npy
        (DataComp subset: sorted, de-duplicated uids), .parquet or .csv (uid + --columns).
        Writes FILE.sieve.json (provenance) beside it. Prints one JSON line.
${CLUSTER_USAGE}
  export POOL (--spec SPEC | --subset FILE) --out FILE [--columns C1,C2] [--force] [--workspace DIR]
        export the kept samples: .npy, .parquet, .csv (uid + --columns), .tsv (img2dataset input:
        url, caption, uid) or .txt (img2dataset input: URLs); with FILE.sieve.json beside it
  reshard POOL (--spec SPEC | --subset FILE) --out DIR [--shard-size N] [--order source|uid]
          [--force] [--workspace DIR]
        copy the kept samples' tar members into new webdataset shards (deterministic; in the
        source tars' order, read sequentially, or --order uid: shards as uid ranges, a read per
        sample; resumable: rerun the same command after an interruption), with stats, sample_ids.npy, missing_uids.txt, meta.json and
        DIR.sieve.json
  import POOL FILE [--workspace DIR]
        read a subset file (DataComp .npy, or .parquet/.csv with a uid column) as a decision and
        report what it holds (unsorted, repeated uids, uids not in the pool)
${AUDIT_USAGE}
${EMBED_USAGE}
  filters
        list the filter kinds and their parameters
  presets
        list the papers' recipes (sieve filter --preset NAME), with what each paper reports
  serve POOL [--port P] [--workspace DIR]
        serve the app for this pool on 127.0.0.1 and print its URL

Exit codes: 0 done, 2 bad input, 1 internal error.`;

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
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

/** The command line as typed, for provenance sidecars. */
function commandLine(argv: string[]): string {
  return ['sieve', ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

function columnsFlag(v: unknown): string[] | undefined {
  return typeof v === 'string' ? v.split(',').map((c) => c.trim()).filter(Boolean) : undefined;
}

/** Checks of an export file target that need no pool: before any work. */
function precheckFileTarget(poolDir: string, out: string, force: boolean): void {
  checkFileTarget(path.resolve(poolDir), out, force);
  checkSidecar(path.resolve(out), force);
}

async function filter(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('filter', argv, { spec: 'string', preset: 'string', assets: 'string', out: 'string', workspace: 'string', columns: 'string', force: 'bool', ...ENGINE_FLAGS });
  const engine = engineOptions(flags);
  const poolDir = onePositional('filter', positional, 'pool folder');
  if (flags.spec && flags.preset) throw new SieveError('bad_input', 'sieve filter: give --spec or --preset, not both');
  if (!flags.spec && !flags.preset) throw new SieveError('bad_input', 'sieve filter: --spec SPEC (a JSON file or inline JSON) or --preset NAME is required (see sieve presets)');
  if (flags.preset) findPreset(flags.preset as string); // an unknown name is an error before any work
  if (!flags.out) throw new SieveError('bad_input', 'sieve filter: --out FILE is required (.npy, .parquet or .csv)');
  const out = flags.out as string;
  const format = subsetFormat(out); // a bad extension is an error before any work
  const columns = columnsFlag(flags.columns);
  exportColumns(format, columns);
  const assets = Object.fromEntries(
    String(flags.assets ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => {
        const eq = kv.indexOf('=');
        if (eq < 1) throw new SieveError('bad_input', `sieve filter: --assets takes NAME=PATH[,NAME=PATH], got ${JSON.stringify(kv)}`);
        return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()];
      }),
  );
  let spec = flags.spec ? readSpecArg(flags.spec as string) : null;
  precheckFileTarget(poolDir, out, Boolean(flags.force));
  const t0 = performance.now();
  let pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    // a preset's spec may scale with the pool (MetaCLIP's t): made once the pool is open
    spec ??= canonicalSpec(presetSpec(flags.preset as string, { rows: pool.rows, assets }));
    // a cluster run's decision comes without its arrays (streamed to the workspace): the export reads it there
    let decision: Pick<Decision, 'summary'> & { keep?: Uint8Array };
    if (engine.engine === 'inproc') decision = await runFilter(pool, spec, { onProgress: progressPrinter() });
    else {
      // the cluster run closes the pool while its tasks run and hands back an open one
      const open = pool;
      pool = null as unknown as Pool;
      const run = await filterWithEngine(open, spec, engine);
      pool = run.pool;
      if (!run.decision) return; // --dry-run: the plan is printed
      decision = run.decision;
    }
    const r = await exportSubset(pool, decision, { path: out, format, columns, force: Boolean(flags.force), command: commandLine(['filter', ...argv]) });
    process.stdout.write(
      `${JSON.stringify({ kept: decision.summary.kept, total: decision.summary.total, seconds: +((performance.now() - t0) / 1000).toFixed(3), filter_seconds: +decision.summary.seconds.toFixed(3), reused: decision.summary.reused, written: r.written, out: r.path, sidecar: r.sidecar })}\n`,
    );
  } finally {
    pool?.close();
  }
}

/** --spec or --subset, checked before the pool is opened. */
function sourceFlags(command: string, flags: Record<string, string | number | boolean>): { spec?: unknown; subset?: string } {
  if (flags.spec !== undefined && flags.subset !== undefined) throw new SieveError('bad_input', `sieve ${command}: give --spec or --subset, not both`);
  if (flags.spec !== undefined) return { spec: readSpecArg(flags.spec as string) };
  if (flags.subset !== undefined) {
    const file = path.resolve(flags.subset as string);
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (e) {
      throw new SieveError('bad_input', `${file}: cannot read the subset file (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    return { subset: file };
  }
  throw new SieveError('bad_input', `sieve ${command}: --spec SPEC (a filter) or --subset FILE (a subset file) is required`);
}

function printSubsetNotes(imported: ImportedSubset): void {
  for (const note of imported.report.notes) process.stderr.write(`sieve: note: ${imported.report.file}: ${note}\n`);
}

function subsetLine(imported: ImportedSubset | null): Record<string, unknown> {
  if (!imported) return {};
  const r = imported.report;
  return { subset: { file: r.file, sha256: r.sha256, records: r.records, distinct: r.distinct, duplicates: r.duplicates, sorted: r.sorted, not_in_pool: r.notInPool } };
}

async function decide(pool: Pool, source: { spec?: unknown; subset?: string }): Promise<{ decision: Pick<Decision, 'summary' | 'keep'>; imported: ImportedSubset | null }> {
  if (source.subset) {
    const imported = await importSubset(pool, source.subset);
    printSubsetNotes(imported);
    return { decision: imported, imported };
  }
  return { decision: await runFilter(pool, source.spec, { onProgress: progressPrinter() }), imported: null };
}

async function exportCommand(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('export', argv, { spec: 'string', subset: 'string', out: 'string', columns: 'string', force: 'bool', workspace: 'string' });
  const poolDir = onePositional('export', positional, 'pool folder');
  if (!flags.out) throw new SieveError('bad_input', 'sieve export: --out FILE is required (.npy, .parquet, .csv, .tsv or .txt)');
  const out = flags.out as string;
  const format = exportFormat(out);
  const columns = columnsFlag(flags.columns);
  exportColumns(format, columns);
  const source = sourceFlags('export', flags);
  const force = Boolean(flags.force);
  precheckFileTarget(poolDir, out, force);
  const t0 = performance.now();
  const pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    const { decision, imported } = await decide(pool, source);
    const r = await exportSubset(pool, decision, {
      path: out,
      format,
      columns,
      force,
      command: commandLine(['export', ...argv]),
      extra: imported ? { subset_import: imported.report } : undefined,
    });
    process.stdout.write(
      `${JSON.stringify({ out: r.path, format: r.format, columns: r.columns, written: r.written, kept: r.kept, total: r.total, bytes: r.bytes, sidecar: r.sidecar, seconds: +((performance.now() - t0) / 1000).toFixed(3), ...subsetLine(imported) })}\n`,
    );
  } finally {
    pool.close();
  }
}

async function reshardCommand(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('reshard', argv, { spec: 'string', subset: 'string', out: 'string', 'shard-size': 'int', order: 'string', force: 'bool', workspace: 'string' });
  const poolDir = onePositional('reshard', positional, 'pool folder');
  if (!flags.out) throw new SieveError('bad_input', 'sieve reshard: --out DIR is required (a new or empty folder)');
  const out = path.resolve(flags.out as string);
  const shardSize = (flags['shard-size'] as number | undefined) ?? DEFAULT_SHARD_SIZE;
  if (shardSize < 1) throw new SieveError('bad_input', `sieve reshard: --shard-size must be at least 1, got ${shardSize}`);
  // the default order is the engine's (reshard.ts); only a given one is checked here, for the flag's name
  const order = flags.order as ReshardOrder | undefined;
  if (order !== undefined && order !== 'uid' && order !== 'source') throw new SieveError('bad_input', `sieve reshard: --order must be uid or source, got ${JSON.stringify(order)}`);
  const source = sourceFlags('reshard', flags);
  refuseInsidePool(path.resolve(poolDir), out);
  checkWritableDir(fs.existsSync(out) ? out : path.dirname(out));
  const t0 = performance.now();
  const pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    const { decision, imported } = await decide(pool, source);
    const r = await reshard(pool, decision, {
      dir: out,
      shardSize,
      order,
      force: Boolean(flags.force),
      command: commandLine(['reshard', ...argv]),
      extra: imported ? { subset_import: imported.report } : undefined,
      onProgress: progressPrinter(),
    });
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${JSON.stringify({ out: r.dir, shards: r.shards, requested: r.requested, written: r.written, without_image: r.withoutImage, bytes: r.bytes, skipped_shards: r.skippedShards, seconds: +seconds.toFixed(3), reshard_seconds: +r.seconds.toFixed(3), meta: r.meta, sidecar: r.sidecar, ...subsetLine(imported) })}\n`,
    );
  } finally {
    pool.close();
  }
}

async function importCommand(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs('import', argv, { workspace: 'string' });
  if (positional.length !== 2) throw new SieveError('bad_input', `sieve import: expected a pool folder and a subset file, got ${positional.length} arguments (see sieve --help)`);
  const [poolDir, file] = positional;
  const source = sourceFlags('import', { subset: file });
  const pool = await Pool.open(poolDir, { workspace: flags.workspace as string | undefined, onProgress: progressPrinter() });
  try {
    const imported = await importSubset(pool, source.subset as string);
    printSubsetNotes(imported);
    const { notes: _notes, ...report } = imported.report;
    process.stdout.write(`${JSON.stringify({ decision: imported.summary.id, kept: imported.summary.kept, total: imported.summary.total, ...report })}\n`);
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
      case 'export':
        await exportCommand(rest);
        return 0;
      case 'reshard':
        await reshardCommand(rest);
        return 0;
      case 'import':
        await importCommand(rest);
        return 0;
      case 'embed':
        await embedCommand(rest);
        return 0;
      case 'cluster-task':
        await clusterTaskCommand(rest);
        return 0;
      case 'audit':
        await auditCommand(rest);
        return 0;
      case 'presets':
        // the list the app shows (numbers at the paper's scale: `sieve filter` scales them to the pool)
        for (const p of presetInfos(null)) {
          const files = p.assets.map((a) => `\n    ${a.supplied ? 'uses' : 'needs'} --assets ${a.name}=FILE${a.defaultFile ? ` (default: ${a.defaultFile})` : ''}: ${a.help}`).join('');
          process.stdout.write(`${p.name}: ${p.title}\n    ${p.citation}; reports: ${p.reports}\n    spec: ${JSON.stringify(p.spec)}${files}\n`);
        }
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
