/**
 * Resumability: `sieve embed` is killed (SIGKILL) in a child process right after its first chunk is
 * on disk; running it again skips the finished chunks and the result equals an uninterrupted run,
 * byte for byte. Also the command's bad input (exit 2, one line) and its JSON line.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tmpDir } from './fixtures/tiny-pool.js';
import { writeTinyModel } from '../fixtures/embed/models.js';
import { makeTarPool } from '../fixtures/embed/pools.js';

const CHILD = path.resolve('dist/test/fixtures/embed/child.js');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CHILD, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function doneChunks(stateFile: string): number {
  try {
    const s = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { done: string };
    return [...s.done].filter((c) => c === '1').length;
  } catch {
    return 0;
  }
}

test('killed after its first chunk, sieve embed resumes and gives what an uninterrupted run gives', async () => {
  const dir = tmpDir('embed-resume');
  const p = await makeTarPool(path.join(dir, 'pool'), 16, { noImage: [2], corrupt: [9] });
  const model = writeTinyModel(path.join(dir, 'model'), { size: 16, dim: 8, arch: 'b32' });
  const args = (ws: string) => [p.dir, '--model', model.dir, '--provider', 'cpu', '--batch', '2', '--chunk', '4', '--workers', '1', '--workspace', ws];

  // the uninterrupted run
  const whole = run(args(path.join(dir, 'ws-whole')));
  assert.equal(whole.status, 0, whole.stderr);
  const wholeLine = JSON.parse(whole.stdout.trim().split('\n').pop() as string);
  assert.equal(wholeLine.image.embedded, 14);
  assert.equal(wholeLine.image.failed, 1);
  assert.match(whole.stderr, /embed \[#{24}\] 16\/16 rows {2}[\d.]+ (img|captions)\/s {2}ETA 0:00/, 'the progress line');
  assert.match(whole.stderr, /1 rows of b32_img could not be embedded \(NaN\), e\.g\. row 9: cannot decode the image/);

  // the interrupted run: slowed down, killed as soon as one chunk is finished
  const ws = path.join(dir, 'ws-killed');
  const state = path.join(ws, 'embed', 'b32_img.state.json');
  const child = spawn(process.execPath, [CHILD, ...args(ws)], { env: { ...process.env, EMBED_TEST_DELAY_MS: '250' }, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const t0 = Date.now();
  while (doneChunks(state) < 1 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  const finishedBeforeKill = doneChunks(state);
  assert.ok(finishedBeforeKill >= 1 && finishedBeforeKill < 4, `killed midway (${finishedBeforeKill} of 4 chunks done)`);
  assert.ok(!fs.existsSync(path.join(ws, 'features', 'b32_img.f16')), 'the feature was not finished');

  // the restart skips the finished chunks
  const again = run(args(ws));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /b32_img: resuming, \d of 4 chunks already done/);
  const line = JSON.parse(again.stdout.trim().split('\n').pop() as string);
  assert.ok(line.image.resumedChunks >= 1);
  assert.ok(line.image.embedded < 14, 'only the unfinished chunks were embedded again');
  assert.equal(line.image.failed, 1, 'failures of the chunks done before the kill are still listed');
  assert.equal(line.image.failures[0].row, 9);

  for (const f of ['b32_img.f16', 'b32_txt.f16']) {
    const a = fs.readFileSync(path.join(dir, 'ws-whole', 'features', f));
    const b = fs.readFileSync(path.join(ws, 'features', f));
    assert.ok(a.equals(b), `${f} equals the uninterrupted run's`);
  }
  assert.equal(line.score.written, true);
});

test('sieve embed: bad input exits 2 with one line; progress on stderr', () => {
  const r = run(['/nonexistent/pool', '--model', '/nonexistent/model']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(run(['x']).stderr, /--model DIR is required/);
  assert.match(run(['x', '--model', 'm', '--provider', 'tpu']).stderr, /--provider must be one of auto, cpu, cuda, webgpu, coreml, dml/);
  assert.match(run(['x', '--model', 'm', '--what', 'audio']).stderr, /--what must be image, text or both/);
  assert.match(run(['x', '--model', 'm', '--bogus']).stderr, /unknown option --bogus/);
});
