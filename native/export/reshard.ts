/**
 * `sieve reshard` (issue 4; datacomp.md §5): the kept samples' tar members copied into new
 * webdataset shards `00000000.tar`, `00000001.tar`, ... of at most `shardSize` samples.
 *
 * - Deterministic: one sample per distinct kept uid that has an image, in the order of the source
 *   tars (`order: 'source'`, the default: sequential reads, the order DataComp's resharder writes
 *   in) or in uid order (`order: 'uid'`: shards are uid ranges, reads jump around the tars); every member of the sample's key (`.jpg`,
 *   `.json`, `.txt`, ... as in the source, in the source's order, bytes untouched) written as ustar
 *   with fixed mode, owner and mtime. Same pool, subset, shard size and order: the same bytes.
 * - Streaming: the plan (which member of which tar goes where) is gathered shard by shard from the
 *   pool's member index, held in memory as typed arrays (member-index.ts); copy-members.ts reads
 *   the members straight into their place in 1 MB output chunks (one read per run of members
 *   adjacent in the source; in source order, the tars are read sequentially); a tar is never
 *   loaded whole. Memory: the index, one shard's plan, two chunks.
 * - Resumable: each shard is written to `.NNNNNNNN.tar.tmp` and renamed when complete; the hidden
 *   progress file `.sieve-reshard.json` records the plan's identity and each finished shard's bytes.
 *   A rerun with the same plan keeps finished shards (their size checked) and continues.
 * - Beside the shards: `NNNNNNNN_stats.json`, `sample_ids.npy` (the uids written, DataComp's subset
 *   format), `missing_uids.txt` (kept uids without an image), `meta.json` (deterministic: spec or
 *   subset file and sha256, pool fingerprint, Sieve version, counts, shards); and the sidecar
 *   `<dir>.sieve.json` next to the folder (with the time and the command).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { DecisionSummary, ProgressEvent, ReshardResult } from '../api.js';
import type { Pool } from '../pool/pool.js';
import { MemberCopier, TarFiles } from './copy-members.js';
import { memberIndex, shardMembers } from './member-index.js';
import { badInput, SieveError } from '../errors.js';
import { checkWritableDir, diskError, refuseInsidePool, removeStaleTempsIn, writeAll, writeAtomic, writeFileAtomicSync } from './atomic.js';
import { buildProvenance, sidecarPath, sieveVersion, writeSidecar } from './provenance.js';
import { keptRepresentatives, uidHex, writeUidNpy } from './subset.js';

/** Bump when the bytes a plan produces would change (layout, member order, tar header fields). */
const RESHARD_FORMAT = 1;
/** Every member's mtime (2023-04-09, DataComp's release month): shards are byte-stable. */
export const RESHARD_MTIME = 1681000000;
export const PROGRESS_FILE = '.sieve-reshard.json';
export const DEFAULT_SHARD_SIZE = 10000;
const MAX_SHARD_SIZE = 10_000_000;

const SHARD_TAR = /^\d{8}\.tar$/;
const SHARD_STATS = /^\d{8}_stats\.json$/;
const OWN_FILES = new Set(['sample_ids.npy', 'missing_uids.txt', 'meta.json', PROGRESS_FILE]);
const OWN_TEMP = /^\.(\d{8}\.tar|\d{8}_stats\.json|sample_ids\.npy|missing_uids\.txt|meta\.json|\.sieve-reshard\.json)\.tmp/;

const shardName = (k: number) => String(k).padStart(8, '0');

/** A file Sieve's reshard writes (and may replace with --force). */
export function isReshardFile(name: string): boolean {
  return SHARD_TAR.test(name) || SHARD_STATS.test(name) || OWN_FILES.has(name) || OWN_TEMP.test(name);
}

interface ProgressState {
  format: number;
  plan: string;
  shard_size: number;
  shards: Record<string, ShardEntry>;
}

interface ShardEntry {
  count: number;
  bytes: number;
}

function readProgress(dir: string): ProgressState | null {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(dir, PROGRESS_FILE), 'utf8')) as ProgressState;
    return p && typeof p.plan === 'string' && p.shards && typeof p.shards === 'object' ? p : null;
  } catch {
    return null;
  }
}

function writeProgress(dir: string, p: ProgressState): void {
  const shards = Object.fromEntries(Object.entries(p.shards).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileAtomicSync(path.join(dir, PROGRESS_FILE), `${JSON.stringify({ ...p, shards }, null, 1)}\n`);
}

/** `source` (default): in the order of the source tars (sequential reads); `uid`: in uid order (a read per sample, at random offsets). */
export type ReshardOrder = 'uid' | 'source';

export interface ReshardOptions {
  dir: string;
  shardSize?: number;
  order?: ReshardOrder;
  force?: boolean;
  /** the command line or API call, for the sidecar */
  command?: string;
  extra?: Record<string, unknown>;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

function checkShardSize(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_SHARD_SIZE;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SHARD_SIZE) {
    throw badInput('shard size', `must be an integer from 1 to ${MAX_SHARD_SIZE}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Test hook: a pause after each finished shard, so a test can kill the process midway. */
function shardDelayMs(): number {
  const v = Number(process.env.SIEVE_RESHARD_SHARD_DELAY_MS ?? 0);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** Reshard the kept samples of a decision into `opts.dir`. */
export async function reshard(pool: Pool, decision: { summary: DecisionSummary; keep: Uint8Array }, opts: ReshardOptions): Promise<ReshardResult> {
  const t0 = performance.now();
  if (typeof opts.dir !== 'string' || !opts.dir) throw badInput('reshard', 'an output folder is required');
  const shardSize = checkShardSize(opts.shardSize);
  const order: ReshardOrder = opts.order ?? 'source';
  if (order !== 'uid' && order !== 'source') throw badInput('order', `must be "uid" or "source", got ${JSON.stringify(order)}`);
  const force = Boolean(opts.force);
  const dir = path.resolve(opts.dir);
  refuseInsidePool(pool.dir, dir);
  let exists = false;
  try {
    const st = fs.statSync(dir);
    if (!st.isDirectory()) throw badInput(dir, 'exists and is a file; the reshard output is a folder');
    exists = true;
  } catch (e) {
    if (e instanceof SieveError) throw e;
  }
  checkWritableDir(exists ? dir : path.dirname(dir));
  const sidecar = sidecarPath(dir);

  // A folder pool (plain image files, `images.tar` = -1) has no tar members to copy.
  const fileImages = Number(await pool.db.value<bigint>('SELECT count(*) FROM images WHERE tar < 0'));
  if (fileImages) throw badInput(pool.dir, `its ${fileImages} images are plain files, not webdataset tar members: resharding copies tar members, so it needs a pool of tars`);

  // The plan's identity: everything that decides the bytes written.
  const reps = await keptRepresentatives(pool, decision.keep);
  const planId = crypto
    .createHash('sha256')
    .update(JSON.stringify({ format: RESHARD_FORMAT, fingerprint: pool.fingerprint, shardSize, order, mtime: RESHARD_MTIME }))
    .update(new Uint8Array(reps.pairs.buffer, reps.pairs.byteOffset, reps.pairs.byteLength))
    .digest('hex')
    .slice(0, 32);

  // The folder: new, empty, or an earlier (interrupted) run of the same plan. Anything else needs --force.
  let previous = exists ? readProgress(dir) : null;
  const related = previous !== null && previous.plan === planId && previous.format === RESHARD_FORMAT;
  if (exists && !related) {
    const entries = fs.readdirSync(dir);
    if (entries.length && !force) {
      throw badInput(
        dir,
        previous
          ? 'holds a reshard of another subset, pool, shard size or order; pass --force to replace it, or choose an empty folder'
          : `is not empty (${entries.length} entries); choose an empty or new folder, or pass --force (Sieve then replaces only its own files there)`,
      );
    }
    for (const n of entries) if (isReshardFile(n)) fs.rmSync(path.join(dir, n), { force: true });
    previous = null;
  }
  if (!related && !force && fs.existsSync(sidecar)) throw badInput(sidecar, 'already exists; pass --force to replace it');
  if (!exists) {
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      throw badInput(dir, `cannot create the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  // what a killed run of this plan was writing (a stats file, the progress file) goes
  if (related) removeStaleTempsIn(dir, (target) => isReshardFile(target));
  const state: ProgressState = related && previous ? previous : { format: RESHARD_FORMAT, plan: planId, shard_size: shardSize, shards: {} };
  if (!related) writeProgress(dir, state);

  const tIndex = performance.now();
  const index = await memberIndex(pool, opts.onProgress);
  const indexSeconds = (performance.now() - tIndex) / 1000;
  const emit = opts.onProgress;
  const tars = new TarFiles(pool.tarPaths());
  try {
    // which kept uids have an image: those are written, the others listed in missing_uids.txt
    const hasImage = new Uint8Array(pool.rows);
    for (let i = 0; i < index.sourceRows.length; i++) hasImage[index.sourceRows[i]] = 1;
    const requested = reps.rows.length;
    let writtenCount = 0;
    for (let i = 0; i < requested; i++) writtenCount += hasImage[reps.rows[i]];
    const withoutImage = requested - writtenCount;
    const writtenRows = new Int32Array(writtenCount);
    const writtenPairs = new BigUint64Array(2 * writtenCount);
    for (let i = 0, w = 0; i < requested; i++) {
      if (!hasImage[reps.rows[i]]) continue;
      writtenRows[w] = reps.rows[i];
      writtenPairs[2 * w] = reps.pairs[2 * i];
      writtenPairs[2 * w + 1] = reps.pairs[2 * i + 1];
      w++;
    }
    // Samples with an image, numbered n = 0, 1, ... in output order: outRows[n] is sample n's row
    // (uid order: as reps lists them; source order: the index's order of the tars);
    // shard k holds samples k * shardSize ..
    let outRows = writtenRows;
    if (order === 'source') {
      const written = new Uint8Array(pool.rows);
      for (let i = 0; i < writtenCount; i++) written[writtenRows[i]] = 1;
      outRows = new Int32Array(writtenCount);
      for (let i = 0, w = 0; i < index.sourceRows.length; i++) if (written[index.sourceRows[i]]) outRows[w++] = index.sourceRows[i];
    }
    const shards = Math.ceil(writtenCount / shardSize);
    let done = 0;
    let skipped = 0;
    let lastEmit = 0;
    const tStart = performance.now();
    const report = (message: string, force = false) => {
      const now = performance.now();
      if (!force && now - lastEmit < 100) return;
      lastEmit = now;
      const secs = (now - tStart) / 1000;
      emit?.({ job: 'export', done, total: writtenCount, rate: secs > 0 ? done / secs : undefined, message });
    };
    const copier = new MemberCopier(tars, RESHARD_MTIME);
    const shardInfo: { name: string; count: number; bytes: number }[] = [];
    const delay = shardDelayMs();
    let planSeconds = 0;

    const tCopy = performance.now();
    for (let k = 0; k < shards; k++) {
      const name = shardName(k);
      const tarFile = path.join(dir, `${name}.tar`);
      const count = Math.min(shardSize, writtenCount - k * shardSize);
      // a shard an earlier run finished (same count, same size on disk) is kept
      const had = state.shards[name];
      let keep = false;
      if (had && had.count === count) {
        try {
          keep = fs.statSync(tarFile).size === had.bytes;
        } catch {
          // gone: write it again
        }
      }
      if (keep) {
        writeStats(dir, name, had);
        shardInfo.push({ name: `${name}.tar`, count, bytes: had.bytes });
        skipped++;
        done += count;
        report(`shard ${k + 1} of ${shards} (kept from an earlier run)`);
        continue;
      }
      if (opts.signal?.aborted) throw new SieveError('cancelled', 'the reshard was cancelled; run it again to resume');
      const tPlan = performance.now();
      const members = shardMembers(index, outRows, k * shardSize, k * shardSize + count);
      planSeconds += (performance.now() - tPlan) / 1000;
      const before = done;
      const bytes = await writeAtomic(tarFile, async (tmp) => {
        const fd = fs.openSync(tmp, 'w');
        try {
          const bytes = await copier.copy(fd, members, {
            signal: opts.signal,
            onChunk: (n) => {
              done = before + n;
              report(`shard ${k + 1} of ${shards}`);
            },
          });
          // recorded before the rename: a shard found at its name is always in the progress file
          // (killed between the two, the rerun finds it listed but absent and writes it again)
          state.shards[name] = { count, bytes };
          writeProgress(dir, state);
          return bytes;
        } finally {
          fs.closeSync(fd);
        }
      });
      writeStats(dir, name, { count, bytes });
      shardInfo.push({ name: `${name}.tar`, count, bytes });
      report(`shard ${k + 1} of ${shards}`, true);
      if (delay) await new Promise((r) => setTimeout(r, delay));
    }

    const tFinish = performance.now();
    const copySeconds = (tFinish - tCopy) / 1000;
    // sample_ids.npy: the uids written, DataComp's subset format; missing_uids.txt: kept uids without an image
    await writeAtomic(path.join(dir, 'sample_ids.npy'), (tmp) => writeUidNpy(tmp, writtenPairs));
    await writeAtomic(path.join(dir, 'missing_uids.txt'), (tmp) => {
      const fd = fs.openSync(tmp, 'w');
      try {
        const lines: string[] = [];
        const flush = () => {
          if (lines.length) writeAll(fd, Buffer.from(`${lines.join('\n')}\n`, 'latin1'));
          lines.length = 0;
        };
        for (let i = 0; i < requested; i++) {
          if (hasImage[reps.rows[i]]) continue;
          lines.push(uidHex(reps.pairs[2 * i], reps.pairs[2 * i + 1]));
          if (lines.length >= 4096) flush();
        }
        flush();
      } finally {
        fs.closeSync(fd);
      }
    });
    const totalBytes = shardInfo.reduce((n, s) => n + s.bytes, 0);
    const counts = { requested, written: writtenCount, without_image: withoutImage };
    const meta = {
      sieve_version: sieveVersion(),
      kind: 'reshard',
      pool: { path: pool.dir, fingerprint: pool.fingerprint, rows: pool.rows },
      decision_id: decision.summary.id,
      spec: decision.summary.spec,
      rules: decision.summary.rules,
      kept_rows: decision.summary.kept,
      shard_size: shardSize,
      order,
      tar_mtime: RESHARD_MTIME,
      counts,
      bytes: totalBytes,
      shards: shardInfo,
      files: { sample_ids: 'sample_ids.npy', missing_uids: 'missing_uids.txt' },
    };
    const metaFile = path.join(dir, 'meta.json');
    writeFileAtomicSync(metaFile, `${JSON.stringify(meta, null, 1)}\n`);
    const seconds = (performance.now() - t0) / 1000;
    const side = writeSidecar(
      dir,
      buildProvenance({
        pool,
        kind: 'reshard',
        command: opts.command ?? 'reshard',
        output: { path: dir, format: 'webdataset', shard_size: shardSize, order, shards, bytes: totalBytes, meta: metaFile },
        decisions: [decision.summary],
        counts: { ...counts, skipped_shards: skipped },
        extra: opts.extra,
      }),
    );
    done = writtenCount;
    report('done', true);
    const phases = {
      prepare: (tIndex - t0) / 1000,
      index: indexSeconds,
      plan: planSeconds,
      copy: copySeconds - planSeconds,
      finish: (performance.now() - tFinish) / 1000,
    };
    return {
      dir,
      shards,
      requested,
      written: writtenCount,
      withoutImage,
      bytes: totalBytes,
      skippedShards: skipped,
      seconds,
      copySeconds,
      phases,
      meta: metaFile,
      sidecar: side,
    };
  } catch (e) {
    throw diskError(dir, e);
  } finally {
    tars.close();
  }
}

/** `NNNNNNNN_stats.json`, img2dataset's names where they apply (deterministic: no times). */
function writeStats(dir: string, name: string, e: ShardEntry): void {
  const stats = {
    count: e.count,
    successes: e.count,
    failed_to_download: 0,
    failed_to_resize: 0,
    bytes: e.bytes,
  };
  writeFileAtomicSync(path.join(dir, `${name}_stats.json`), `${JSON.stringify(stats, null, 4)}\n`);
}
