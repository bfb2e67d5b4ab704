/**
 * Writing an audit report: checked before any work (a .json or .html name, not inside the pool, the
 * folder exists, no existing file unless `force`), then written to a temporary file in the target's
 * folder and renamed into place, so a reader never sees half a report.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { badInput } from '../errors.js';

export type ReportFormat = 'json' | 'html';

export function reportFormat(file: string): ReportFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.html' || ext === '.htm') return 'html';
  throw badInput(file, 'the report must be a .json or .html file');
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Check the target before any work; returns its absolute path. */
export function checkReportTarget(file: string, poolDir: string, force: boolean): string {
  const abs = path.resolve(file);
  reportFormat(abs);
  if (inside(abs, poolDir)) throw badInput(abs, 'Sieve never writes inside the pool directory; choose another folder');
  const dir = path.dirname(abs);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw badInput(dir, 'the output folder does not exist');
  }
  if (!st.isDirectory()) throw badInput(dir, 'the output folder is not a folder');
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw badInput(dir, 'the output folder is not writable');
  }
  let existing: fs.Stats | null = null;
  try {
    existing = fs.lstatSync(abs);
  } catch {
    // does not exist: fine
  }
  if (existing?.isDirectory()) throw badInput(abs, 'exists and is a folder; choose a file name');
  if (existing && !force) throw badInput(abs, 'already exists; pass --force to replace it');
  return abs;
}

/** Write the file atomically (temporary file beside it, then rename). */
export function writeReportAtomic(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT') throw badInput(file, `cannot write the report (${code}); nothing was written there`);
    throw e;
  }
}
