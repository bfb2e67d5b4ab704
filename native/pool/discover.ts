/**
 * Find a pool's shards: every `<stem>.parquet`, `<stem>.npz` and `<stem>.tar` in the directory,
 * grouped by stem (DataComp: 32-hex stems for metadata downloads, 8-digit stems for image shards).
 * Only files are listed; nothing is opened or written here.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { badInput } from '../errors.js';

export interface ShardFiles {
  stem: string;
  parquet: string | null;
  npz: string | null;
  tar: string | null;
}

export interface SourceFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface Discovery {
  dir: string;
  shards: ShardFiles[];
  /** the files whose size + mtime make the pool's fingerprint */
  sources: SourceFile[];
  /** every webdataset tar: images are matched to rows by the uid in each sample's .json, so a tar
   * need not share its stem with a parquet (img2dataset names shards NNNNNNNN, metadata is 32-hex) */
  tars: string[];
  /** npz files with no parquet of the same stem (their rows cannot be aligned: reported, not used) */
  orphans: string[];
}

const KINDS = ['parquet', 'npz', 'tar'] as const;

export function discoverPool(dirArg: string): Discovery {
  const dir = path.resolve(dirArg);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw badInput(dir, 'no such pool directory');
  }
  if (!stat.isDirectory()) throw badInput(dir, 'not a directory (a pool is a folder of .parquet/.npz/.tar shards)');

  const byStem = new Map<string, ShardFiles>();
  const sources: SourceFile[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const ext = path.extname(name).slice(1).toLowerCase();
    if (!(KINDS as readonly string[]).includes(ext)) continue;
    const full = path.join(dir, name);
    const st = fs.statSync(full);
    if (!st.isFile()) continue;
    const stem = name.slice(0, -(ext.length + 1));
    const shard = byStem.get(stem) ?? { stem, parquet: null, npz: null, tar: null };
    shard[ext as (typeof KINDS)[number]] = full;
    byStem.set(stem, shard);
    sources.push({ path: full, size: st.size, mtimeMs: st.mtimeMs });
  }
  const all = [...byStem.values()].sort((a, b) => (a.stem < b.stem ? -1 : a.stem > b.stem ? 1 : 0));
  const shards = all.filter((s) => s.parquet);
  const tars = all.flatMap((s) => (s.tar ? [s.tar] : []));
  const orphans = all.filter((s) => !s.parquet && s.npz).map((s) => s.npz as string);
  if (shards.length === 0) throw badInput(dir, 'no .parquet files found: a DataComp pool has one <stem>.parquet per shard');
  return { dir, shards, sources, tars, orphans };
}

/** Sources' names, sizes and mtimes, hashed: a changed, added or removed file gives a new pool. */
export function fingerprint(d: Discovery): string {
  const h = crypto.createHash('sha256');
  for (const s of d.sources) h.update(`${path.basename(s.path)}\0${s.size}\0${Math.round(s.mtimeMs)}\n`);
  return h.digest('hex').slice(0, 32);
}
