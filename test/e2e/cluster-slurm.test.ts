/**
 * End to end: a run on Slurm from the app, in Chromium against `sieve serve`, on the REAL one-node
 * Slurm of scripts/slurm-one-node.sh (no mocks), over a 4,000-sample demo pool in 8 shards.
 *
 * The Cluster settings start folded into one line ("not set up"); opened, the form is filled in
 * (through a login-command prefix, `sh -c`); a relative work dir is refused with the engine's
 * message, naming cluster.work, beside Run. Then DataComp's CLIP L/14 30% runs as 8 tasks per stage:
 * the stage view lists the plan's stages with their tasks done, and saw Slurm's queue (tasks
 * running); the decision lands in the list and colours the map, and its kept rows are exactly those
 * DataComp's rule keeps on the pool's scores read independently with DuckDB
 * (t = sorted_desc[floor(N * 0.3)], NaN last). The settings survive a reload, folded into one line
 * that says what is set. A second run is cancelled midway: the app says so and none of its jobs is
 * left in Slurm's queue. A screenshot of the finished run goes to test-output/e2e-cluster-slurm.png.
 *
 * Skips with one line without Chromium, or where Slurm cannot run (as test/native/cluster-slurm.test.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { slurmUnavailable } from '../native/fixtures/slurm.js';
import { OUTPUT, cutoff, engineCall, gotoMap, norm, openApp, readScores, rowsOf, skipReason, withFailureShot, type App } from './harness.js';

const SAMPLES = 4000;
const FRACTION = 0.3;

const skip = skipReason || slurmUnavailable() || false;

let app: App | null = null;
let scores: number[] = [];

before(async () => {
  if (skip) return;
  // the server's executor looks at the queue this often (the default, 3 s, is for real queues)
  process.env.SIEVE_SLURM_POLL_MS = '400';
  app = await openApp(SAMPLES, {
    demoArgs: ['--no-images', '--shard-size', '500'],
    beforeServe: async (pool) => {
      scores = await readScores(pool);
      assert.equal(scores.length, SAMPLES);
    },
  });
});

after(async () => {
  await app?.close();
});

const cluster = (p: Page) =>
  p.evaluate(() => (globalThis as any).__sieve.cluster?.() as { running: boolean; stages: { name: string; tasks: number; done: number; peakRunning: number; peakPending: number; reasons: string[] }[] } | undefined);

/** The jobs in Slurm's queue whose script lies in `work`. */
function jobsOf(work: string): string[] {
  const out = execFileSync('squeue', ['--noheader', '--array', '--format=%F|%o'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split('|'))
    .filter(([, command]) => command?.startsWith(`${work}/`))
    .map(([job]) => job);
}

async function typeSpec(p: Page, spec: unknown): Promise<void> {
  if (await p.locator('[data-testid=edit-json]').count()) await p.locator('[data-testid=edit-json]').click();
  await p.locator('[data-testid=spec-json]').fill(JSON.stringify(spec));
  await p.waitForFunction((text: string) => {
    const el = (globalThis as any).document.querySelector('[data-testid=spec-check]');
    return el?.dataset.status === 'ok' && (globalThis as any).document.querySelector('[data-testid=spec-json]').value === text;
  }, JSON.stringify(spec), { timeout: 30_000 });
}

test('the app runs a spec on Slurm: settings, refused relative work dir, stage progress, the decision equals DataComp\'s rule; a run is cancelled', { skip, timeout: 600_000 }, async (t) => {
  await withFailureShot(app, 'e2e-cluster-slurm', t, async () => {
    const { page: p, pageErrors } = app!;
    const work = join(app!.tmp, 'slurm-work');
    const threshold = cutoff(scores, FRACTION);
    const expected = scores.map((s, row) => (s >= threshold ? row : -1)).filter((r) => r >= 0);
    t.diagnostic(`DuckDB: L/14 cut-off ${threshold}, ${expected.length} of ${SAMPLES} kept`);

    assert.equal(await gotoMap(app!), SAMPLES);
    const spec = { filter: 'clip_score', arch: 'l14', fraction: FRACTION };
    await typeSpec(p, spec);

    // The settings start folded into one line saying none is set; Run on Slurm waits for a work dir.
    const summary = p.locator('[data-testid=cluster-summary]');
    await summary.waitFor({ timeout: 10_000 });
    assert.equal(await p.locator('[data-testid=cluster-form]').count(), 0, 'the settings start folded');
    assert.equal(norm(await summary.textContent()), 'not set up: open the settings');
    assert.equal(await p.locator('[data-testid=cluster-settings-toggle]').getAttribute('aria-expanded'), 'false');
    assert.equal(await p.locator('[data-testid=run-slurm]').isDisabled(), true, 'no work dir yet');
    await p.locator('[data-testid=cluster-settings-toggle]').click();
    await p.locator('[data-testid=cluster-form]').waitFor({ timeout: 10_000 });
    await p.locator('[data-testid=cluster-login]').fill('sh -c');
    await p.locator('[data-testid=cluster-workers]').fill('2');
    await p.locator('[data-testid=cluster-tasks]').fill('8');

    // A relative work dir: the engine refuses it and its message shows beside Run.
    await p.locator('[data-testid=cluster-work]').fill('relative/work');
    await p.locator('[data-testid=run-slurm]').click();
    const message = p.locator('[data-testid=run-message]');
    await message.waitFor({ timeout: 30_000 });
    assert.match(norm(await message.textContent()), /cluster\.work must be an absolute path.*"relative\/work"/);
    assert.equal(await p.locator('[data-testid=decision]').count(), 0, 'nothing was stored');

    // A number that is not one is caught before the engine.
    await p.locator('[data-testid=cluster-retries]').fill('two');
    await p.locator('[data-testid=cluster-work]').fill(work);
    await p.locator('[data-testid=run-slurm]').click();
    assert.match(norm(await p.locator('[data-testid=cluster-form-error]').textContent()), /retries: 'two' is not a whole number/);
    await p.locator('[data-testid=cluster-retries]').fill('2');

    // The run: 8 tasks per map stage, followed stage by stage.
    const started = Date.now();
    await p.locator('[data-testid=run-slurm]').click();
    await p.locator('[data-testid=cluster-stage]').first().waitFor({ timeout: 60_000 });
    // submitted: the settings fold into one line so the stages show
    assert.equal(norm(await summary.textContent()), `via sh -c · ${work} · 2 workers, 8 tasks, 2 retries`);
    await p.waitForFunction(() => (globalThis as any).__sieve.decisionId !== null && (globalThis as any).__sieve.cluster?.().running === false, undefined, { timeout: 480_000 });
    t.diagnostic(`the Slurm run took ${((Date.now() - started) / 1000).toFixed(1)} s (load ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
    assert.equal(norm(await message.textContent()).includes('kept'), true, `run message: ${await message.textContent()}`);

    const seen = (await cluster(p))!;
    t.diagnostic(`stages: ${seen.stages.map((s) => `${s.name} ${s.done}/${s.tasks} peak ${s.peakRunning} running, ${s.peakPending} pending (${s.reasons.join(', ')})`).join('; ')}`);
    // clip_score fraction in shards (docs/cluster.md): histogram, bucket, pick, cut-off, apply
    assert.deepEqual(seen.stages.map((s) => s.name), ['leaf0-hist', 'leaf0-bucket', 'leaf0-pick', 'leaf0-cutoff', 'leaf0-apply']);
    for (const s of seen.stages) assert.equal(s.done, s.tasks, `${s.name}: ${s.done}/${s.tasks}`);
    assert.equal(seen.stages[0].tasks, 8, 'the histogram map is 8 tasks');
    assert.ok(seen.stages.some((s) => s.peakRunning > 0), "the view showed tasks running in Slurm's queue");
    const rows = await p.locator('[data-testid=cluster-stage]').evaluateAll((els: any[]) => els.map((e) => [e.dataset.stage, Number(e.dataset.done), Number(e.dataset.tasks)]));
    assert.deepEqual(rows, seen.stages.map((s) => [s.name, s.tasks, s.tasks]));

    // The decision: listed, colouring the map, and keeping exactly DataComp's rows.
    const id = await p.evaluate(() => (globalThis as any).__sieve.decisionId as string);
    await p.locator(`[data-testid=decision][data-id="${id}"]`).waitFor({ timeout: 10_000 });
    const legendKept = Number(await p.locator(`[data-testid=decision-legend][data-id="${id}"] [data-testid=decision-kept]`).getAttribute('data-count'));
    assert.equal(legendKept, expected.length, `legend ${legendKept}, DuckDB ${expected.length}`);
    assert.equal(await p.evaluate(() => (globalThis as any).__sieve.decisionKept as number), expected.length);
    const data = (await engineCall(app!.baseUrl, 'getDecision', [id])) as { keep: Uint8Array };
    assert.deepEqual(rowsOf(data.keep), expected, "the kept rows are DataComp's rule's rows");
    assert.deepEqual(jobsOf(work), [], 'no job of the run is left in the queue');
    mkdirSync(OUTPUT, { recursive: true });
    await p.screenshot({ path: join(OUTPUT, 'e2e-cluster-slurm.png') });

    // The settings outlive the page: folded again at start, the line says what is set.
    await p.reload();
    await gotoMap(app!);
    assert.equal(norm(await summary.textContent()), `via sh -c · ${work} · 2 workers, 8 tasks, 2 retries`);
    assert.equal(await p.locator('[data-testid=cluster-form]').count(), 0, 'folded after a reload too');
    await p.locator('[data-testid=cluster-settings-toggle]').click();
    assert.equal(await p.locator('[data-testid=cluster-work]').inputValue(), work);
    assert.equal(await p.locator('[data-testid=cluster-login]').inputValue(), 'sh -c');
    assert.equal(await p.locator('[data-testid=cluster-tasks]').inputValue(), '8');

    // Cancel a run midway: its jobs leave the queue and nothing is stored.
    const decisions = await p.locator('[data-testid=decision]').count();
    await typeSpec(p, { filter: 'clip_score', arch: 'l14', fraction: 0.2 });
    await p.locator('[data-testid=run-slurm]').click();
    await p.waitForFunction(() => ((globalThis as any).__sieve.cluster?.().stages.length ?? 0) > 0, undefined, { timeout: 60_000 });
    assert.ok(jobsOf(work).length > 0, 'the run has jobs in the queue');
    await p.locator('[data-testid=cancel-filter]').click();
    await p.waitForFunction(() => (globalThis as any).__sieve.cluster?.().running === false, undefined, { timeout: 60_000 });
    assert.equal(norm(await message.textContent()), 'cancelled');
    assert.deepEqual(jobsOf(work), [], 'the cancelled run left no job in the queue');
    await p.locator('[data-testid=decisions]').waitFor();
    assert.equal(await p.locator('[data-testid=decision]').count(), decisions, 'a cancelled run stores nothing');
    assert.deepEqual(pageErrors, []);
  });
});
