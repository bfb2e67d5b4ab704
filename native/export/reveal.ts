/**
 * "Reveal in folder" after an export (issue 4): open the system's file manager at what an export
 * wrote. Only paths that an export of this session wrote may be opened (`ExportedPaths`), so a
 * renderer cannot make the engine open arbitrary files or run arbitrary handlers.
 *
 * The opener per platform: macOS `open -R FILE` (Finder, the item selected), Windows
 * `explorer /select,FILE`, elsewhere `xdg-open FOLDER` (no standard way to select an item: the
 * folder holding a file, or the exported folder itself). `SIEVE_OPENER` names another program to
 * run with the same arguments (tests point it at a script that records them; a desktop without
 * xdg-open can name its file manager). Electron's main process uses `shell.showItemInFolder`
 * instead (electron/ipc.ts), after the same check.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SieveError } from '../errors.js';

/** The paths this session's exports wrote (files, sidecars, reshard folders), resolved. */
export class ExportedPaths {
  private readonly paths = new Set<string>();

  add(...written: string[]): void {
    for (const p of written) this.paths.add(path.resolve(p));
  }

  /** `p` resolved, if an export of this session wrote it; otherwise a bad_input error. */
  check(p: unknown): string {
    if (typeof p !== 'string' || !p) throw new SieveError('bad_input', 'revealPath: a path is required');
    const abs = path.resolve(p);
    if (!this.paths.has(abs)) throw new SieveError('bad_input', `${abs}: not written by an export of this session; only exported files and folders can be revealed`);
    if (!fs.existsSync(abs)) throw new SieveError('not_found', `${abs}: no longer exists (moved or deleted since the export)`);
    return abs;
  }
}

/** The program and arguments that show `abs` in the platform's file manager. */
export function revealCommand(abs: string, platform: NodeJS.Platform = process.platform, opener = process.env.SIEVE_OPENER): { program: string; args: string[] } {
  let program: string;
  let args: string[];
  if (platform === 'darwin') {
    program = 'open';
    args = ['-R', abs];
  } else if (platform === 'win32') {
    program = 'explorer';
    args = [`/select,${abs}`];
  } else {
    program = 'xdg-open';
    let folder = abs;
    try {
      if (!fs.statSync(abs).isDirectory()) folder = path.dirname(abs);
    } catch {
      folder = path.dirname(abs);
    }
    args = [folder];
  }
  return { program: opener || program, args };
}

/**
 * Start the opener detached (the file manager outlives Sieve) and resolve once it has started;
 * an opener that cannot be started (not installed, not executable) is an error naming it.
 */
export function revealInFileManager(abs: string): Promise<void> {
  const { program, args } = revealCommand(abs);
  return new Promise<void>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, args, { detached: true, stdio: 'ignore' });
    } catch (e) {
      reject(openerError(program, e));
      return;
    }
    child.once('error', (e) => reject(openerError(program, e)));
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

function openerError(program: string, e: unknown): SieveError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'is not installed or not on the PATH' : code === 'EACCES' ? 'is not executable' : `could not be started (${code ?? (e as Error).message})`;
  return new SieveError('not_found', `cannot reveal the export: the file manager opener ${JSON.stringify(program)} ${why}; set SIEVE_OPENER to a program that opens a folder`);
}
