/**
 * Safe writing of exports (issue 4): every target is checked before any work (not inside the pool,
 * its folder exists and is writable, it does not exist unless `force`), written to a temporary file
 * in the target's own folder, and renamed into place when complete. A killed process or a full disk
 * leaves at most a hidden `.NAME.tmp-PID-RANDOM` beside the target, never a partial target; the
 * next export to the same target removes such leftovers of dead processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { badInput } from '../errors.js';

/** `child` is `parent` or lies under it (both resolved). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Refuse a path inside the (read-only) pool directory. */
export function refuseInsidePool(poolDir: string, target: string): void {
  if (isInside(target, poolDir)) throw badInput(path.resolve(target), 'Sieve never writes inside the pool directory; choose another folder');
}

/** The folder exists, is a folder, and we may write there. */
export function checkWritableDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw badInput(dir, 'the output folder does not exist or is not writable');
  }
  if (!st.isDirectory()) throw badInput(dir, 'the output folder does not exist or is not writable (it is a file)');
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw badInput(dir, 'the output folder does not exist or is not writable');
  }
}

/**
 * Check a file target before any work: absolute path back. `force` allows replacing an existing
 * file (never a folder).
 */
export function checkFileTarget(poolDir: string, file: string, force: boolean): string {
  const abs = path.resolve(file);
  refuseInsidePool(poolDir, abs);
  checkWritableDir(path.dirname(abs));
  refuseExisting(abs, force);
  return abs;
}

export function refuseExisting(abs: string, force: boolean): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(abs);
  } catch {
    return;
  }
  if (st.isDirectory()) throw badInput(abs, 'exists and is a folder; choose a file name');
  if (!force) throw badInput(abs, 'already exists; pass --force to replace it');
}

/** A hidden temporary name in the target's folder (same file system, so the rename is atomic). */
export function tempBeside(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove temporary files that an earlier, killed export to `file` left beside it. */
export function removeStaleTemps(file: string): void {
  const base = path.basename(file);
  removeStaleTempsIn(path.dirname(file), (target) => target === base);
}

/**
 * Remove the temporary files in `dir` (`.TARGET.tmp-PID-RANDOM`) whose target `isOurs` accepts and
 * whose process is gone: what a killed run left (a live process's are still being written).
 */
export function removeStaleTempsIn(dir: string, isOurs: (target: string) => boolean): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/.exec(n);
    if (!m || !isOurs(m[1])) continue;
    const pid = Number(m[2]);
    if (Number.isInteger(pid) && !alive(pid)) fs.rmSync(path.join(dir, n), { force: true });
  }
}

/**
 * Write `file` atomically: `write(tmp)` fills a temporary file beside it, which is then renamed
 * over the target. On any error the temporary file is removed and the target is untouched.
 */
export async function writeAtomic<T>(file: string, write: (tmp: string) => T | Promise<T>): Promise<T> {
  removeStaleTemps(file);
  const tmp = tempBeside(file);
  try {
    const out = await write(tmp);
    fs.renameSync(tmp, file);
    return out;
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw diskError(file, e);
  }
}

/** The synchronous form, for small files (sidecars, stats, meta). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempBeside(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw diskError(file, e);
  }
}

/** A full disk or a vanished folder is something the user can act on: say so, naming the target. */
export function diskError(file: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return badInput(file, 'the disk is full; nothing was written at the target');
  if (code === 'EDQUOT') return badInput(file, 'the disk quota is exceeded; nothing was written at the target');
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return badInput(file, `cannot write here (${code}); nothing was written at the target`);
  if (code === 'ENOENT' || code === 'ENOTDIR') return badInput(file, `the output folder vanished or is not a folder (${code})`);
  return e;
}

/** Write all of `data` at the file position (or the current one). */
export function writeAll(fd: number, data: Uint8Array, position: number | null = null): void {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, position === null ? null : position + done);
    done += n;
  }
}
