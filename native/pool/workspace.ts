/**
 * Where Sieve keeps what it derives from a pool: the OS's per-user data directory, one folder per
 * pool path (DESIGN.md, Data). The pool itself is read-only: a workspace inside it is refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { badInput } from '../errors.js';

export function userDataDir(): string {
  const home = os.homedir();
  if (process.env.SIEVE_DATA_DIR) return path.resolve(process.env.SIEVE_DATA_DIR);
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'Sieve');
    case 'win32':
      return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Sieve');
    default:
      return path.join(process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'sieve');
  }
}

/** The default workspace of a pool: keyed by its absolute path (readable name + hash). */
export function defaultWorkspace(poolDir: string): string {
  const abs = path.resolve(poolDir);
  const key = crypto.createHash('sha256').update(abs).digest('hex').slice(0, 12);
  const name = path.basename(abs).replace(/[^A-Za-z0-9._-]/g, '_') || 'pool';
  return path.join(userDataDir(), 'workspaces', `${name}-${key}`);
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Resolve and create the workspace folder, refusing one inside the (read-only) pool. */
export function prepareWorkspace(poolDir: string, workspace: string | undefined): string {
  const ws = path.resolve(workspace ?? defaultWorkspace(poolDir));
  if (isInside(ws, path.resolve(poolDir))) {
    throw badInput(ws, 'the workspace may not be inside the pool directory (Sieve never writes into a pool)');
  }
  try {
    fs.mkdirSync(ws, { recursive: true });
  } catch (e) {
    throw badInput(ws, `cannot create the workspace folder (${(e as Error).message})`);
  }
  return ws;
}

/** Write a file atomically: a temporary file beside it, then a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
