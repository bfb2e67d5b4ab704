/**
 * "Reveal in folder" (issue 4): the engine starts the file manager opener (here SIEVE_OPENER, a
 * script that records its arguments) at what an export of this session wrote, and refuses any other
 * path; a missing opener is a clear error; the Electron binding reveals through its own shell after
 * the same check.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../native/engine.js';
import { revealCommand } from '../../native/export/reveal.js';
import { bindIpc, INVOKE_CHANNEL, type IpcReply } from '../../electron/ipc.js';
import { SieveError } from '../../native/errors.js';
import { makeTinyPool, tmpDir } from './fixtures/tiny-pool.js';

/** The opener's arguments, one per line, once the detached script has written them. */
async function recorded(log: string): Promise<string[]> {
  const t0 = Date.now();
  while (!fs.existsSync(log) || !fs.readFileSync(log, 'utf8').endsWith('END\n')) {
    assert.ok(Date.now() - t0 < 10_000, 'the opener ran');
    await new Promise((r) => setTimeout(r, 20));
  }
  const lines = fs.readFileSync(log, 'utf8').split('\n').slice(0, -2);
  fs.rmSync(log);
  return lines;
}

test('revealPath opens the exported file\'s folder, refuses other paths, reports a missing opener', async (t) => {
  if (process.platform === 'win32') return t.skip('the recording opener is a POSIX shell script');
  const dir = tmpDir('reveal');
  await makeTinyPool(path.join(dir, 'pool'));
  const log = path.join(dir, 'opener.log');
  const opener = path.join(dir, 'opener.sh');
  fs.writeFileSync(opener, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${JSON.stringify(log)}.part\necho END >> ${JSON.stringify(log)}.part\nmv ${JSON.stringify(log)}.part ${JSON.stringify(log)}\n`);
  fs.chmodSync(opener, 0o755);
  const saved = process.env.SIEVE_OPENER;
  process.env.SIEVE_OPENER = opener;
  const engine = new Engine({ workspace: path.join(dir, 'ws') });
  try {
    await engine.openPool(path.join(dir, 'pool'));
    const d = await engine.runFilter({ filter: 'none' });
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const exported = await engine.exportSubset(d.id, { path: path.join(out, 'kept.npy') });

    // never an arbitrary path: before any export of it, or a file no export wrote
    const refused = async (p: unknown, re: RegExp) =>
      assert.rejects(engine.revealPath(p as string), (e: unknown) => e instanceof SieveError && e.code === 'bad_input' && re.test(e.message));
    await refused('/etc/passwd', /\/etc\/passwd: not written by an export of this session/);
    await refused(path.join(dir, 'pool'), /not written by an export/);
    await refused(path.join(out, 'kept.npy.other'), /not written by an export/);
    await refused('', /a path is required/);
    await refused(42, /a path is required/);
    assert.ok(!fs.existsSync(log), 'the opener did not run for a refused path');

    // the file, given relative to the working directory too: xdg-open gets the folder holding it
    await engine.revealPath(path.relative(process.cwd(), exported.path));
    assert.deepEqual(await recorded(log), process.platform === 'darwin' ? ['-R', exported.path] : [out]);
    await engine.revealPath(exported.sidecar);
    assert.deepEqual(await recorded(log), process.platform === 'darwin' ? ['-R', exported.sidecar] : [out]);

    // a missing opener: a clear error naming it
    process.env.SIEVE_OPENER = path.join(dir, 'no-such-opener');
    await assert.rejects(engine.revealPath(exported.path), (e: unknown) => e instanceof SieveError && e.code === 'not_found' && /opener ".*no-such-opener" is not installed or not on the PATH; set SIEVE_OPENER/.test(e.message));
    // a deleted export: not_found
    fs.rmSync(exported.sidecar);
    await assert.rejects(engine.revealPath(exported.sidecar), (e: unknown) => e instanceof SieveError && e.code === 'not_found' && /no longer exists/.test(e.message));

    // Electron: shell.showItemInFolder after the same check, the opener not involved
    const shown: string[] = [];
    let handler: ((event: unknown, ...args: unknown[]) => Promise<unknown>) | undefined;
    const unbind = bindIpc(
      { handle: (c, h) => (c === INVOKE_CHANNEL ? (handler = h) : undefined), removeHandler: () => undefined },
      engine,
      () => undefined,
      { showItemInFolder: (p) => shown.push(p) },
    );
    assert.deepEqual(await handler!({}, 'revealPath', [exported.path]), { ok: true, result: null } satisfies IpcReply);
    const bad = (await handler!({}, 'revealPath', ['/etc/passwd'])) as IpcReply;
    assert.equal(bad.ok ? '' : bad.error.code, 'bad_input');
    assert.deepEqual(shown, [exported.path]);
    unbind();
  } finally {
    if (saved === undefined) delete process.env.SIEVE_OPENER;
    else process.env.SIEVE_OPENER = saved;
    engine.close();
  }
});

test('the opener per platform: open -R on macOS, explorer /select on Windows, xdg-open FOLDER elsewhere', () => {
  const dir = tmpDir('reveal-cmd');
  const file = path.join(dir, 'kept.npy');
  fs.writeFileSync(file, '');
  assert.deepEqual(revealCommand(file, 'darwin', ''), { program: 'open', args: ['-R', file] });
  assert.deepEqual(revealCommand(file, 'win32', ''), { program: 'explorer', args: [`/select,${file}`] });
  assert.deepEqual(revealCommand(file, 'linux', ''), { program: 'xdg-open', args: [dir] });
  assert.deepEqual(revealCommand(dir, 'linux', ''), { program: 'xdg-open', args: [dir] }, 'a reshard folder opens itself');
  assert.deepEqual(revealCommand(file, 'linux', '/opt/fm'), { program: '/opt/fm', args: [dir] });
});
