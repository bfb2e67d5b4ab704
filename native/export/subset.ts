/**
 * Subset files of kept uids (datacomp.md §2): `.npy` exactly as DataComp's resharder reads it
 * (structured `[('f0','<u8'),('f1','<u8')]`, the uid's high and low 64 bits, sorted ascending,
 * de-duplicated, format 1.0 header as np.save writes it), or `.parquet` / `.csv` with a `uid` column
 * in the same order. Written to a temporary file in the target folder, then renamed into place.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Pool } from '../pool/pool.js';
import { uidColumns } from '../filters/derived.js';
import { encodeNpyHeader } from '../formats/npy.js';
import { sqlString } from '../db/duck.js';
import { badInput } from '../errors.js';

export const UID_DESCR: [string, string][] = [
  ['f0', '<u8'],
  ['f1', '<u8'],
];

export type SubsetFormat = 'npy' | 'parquet' | 'csv';

export function subsetFormat(file: string): SubsetFormat {
  const ext = path.extname(file).toLowerCase().slice(1);
  if (ext === 'npy' || ext === 'parquet' || ext === 'csv') return ext;
  throw badInput(file, 'the output extension picks the format: .npy (DataComp subset), .parquet or .csv');
}

/** Kept uids as interleaved (hi, lo) pairs, sorted and de-duplicated: one pass in uid order. */
export async function sortedKeptUids(pool: Pool, keep: Uint8Array): Promise<BigUint64Array> {
  const { hi, lo, order } = await uidColumns(pool);
  const out = new BigUint64Array(2 * order.length);
  let m = 0;
  for (let k = 0; k < order.length; k++) {
    const r = order[k];
    if (!keep[r]) continue;
    if (m && out[2 * m - 2] === hi[r] && out[2 * m - 1] === lo[r]) continue; // a repeated uid: listed once
    out[2 * m] = hi[r];
    out[2 * m + 1] = lo[r];
    m++;
  }
  return out.subarray(0, 2 * m);
}

function tempBeside(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

function checkTarget(pool: Pool, file: string): string {
  const abs = path.resolve(file);
  const rel = path.relative(pool.dir, abs);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) throw badInput(abs, 'Sieve never writes inside the pool directory; choose another folder');
  const d = path.dirname(abs);
  try {
    fs.accessSync(d, fs.constants.W_OK);
  } catch {
    throw badInput(d, 'the output folder does not exist or is not writable');
  }
  return abs;
}

/** Write the subset; returns the number of distinct uids written. */
export async function writeSubset(pool: Pool, keep: Uint8Array, file: string): Promise<number> {
  const abs = checkTarget(pool, file);
  const format = subsetFormat(abs);
  const pairs = await sortedKeptUids(pool, keep);
  const count = pairs.length / 2;
  const tmp = tempBeside(abs);
  try {
    if (format === 'npy') {
      const header = encodeNpyHeader(UID_DESCR, [count]);
      const fd = fs.openSync(tmp, 'w');
      try {
        fs.writeSync(fd, header);
        // little-endian u64 pairs: the platform order of BigUint64Array on every machine Node runs on
        const bytes = new Uint8Array(pairs.buffer, pairs.byteOffset, pairs.byteLength);
        for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, Math.min(1 << 24, bytes.length - at));
      } finally {
        fs.closeSync(fd);
      }
    } else {
      const lines: string[] = ['uid'];
      for (let i = 0; i < count; i++) lines.push(pairs[2 * i].toString(16).padStart(16, '0') + pairs[2 * i + 1].toString(16).padStart(16, '0'));
      if (format === 'csv') fs.writeFileSync(tmp, lines.join('\n') + '\n');
      else {
        const csv = `${tmp}.csv`;
        fs.writeFileSync(csv, lines.join('\n') + '\n');
        try {
          await pool.db.run(
            `COPY (SELECT uid FROM read_csv(${sqlString(csv)}, header = true, columns = {'uid': 'VARCHAR'})) TO ${sqlString(tmp)} (FORMAT parquet)`,
          );
        } finally {
          fs.rmSync(csv, { force: true });
        }
      }
    }
    fs.renameSync(tmp, abs);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return count;
}
