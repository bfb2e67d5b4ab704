/**
 * Shared by the benchmark scripts: the benchmark pool (a `--no-images` demo pool, made once and
 * reused), timing, and printing figures as aligned lines plus one JSON line for tools.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateDemoPool } from '../native/demo/generate.js';

export const BENCH_DIR = path.resolve(process.env.SIEVE_BENCH_DIR ?? 'bench-output');

/** The demo pool of `samples` rows without images, generated on first use. */
export async function benchPool(samples: number): Promise<{ dir: string; generatedSeconds: number | null }> {
  const dir = path.join(BENCH_DIR, `pool-${samples}`);
  if (fs.existsSync(path.join(dir, '.complete'))) return { dir, generatedSeconds: null };
  fs.rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  await generateDemoPool(dir, { samples, seed: 0, images: false });
  const seconds = (performance.now() - t0) / 1000;
  fs.writeFileSync(path.join(dir, '.complete'), '');
  return { dir, generatedSeconds: seconds };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

const figures: Record<string, number | string> = {};

export function report(name: string, value: number | string, unit = ''): void {
  figures[name] = value;
  const shown = typeof value === 'number' ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)) : value;
  process.stdout.write(`${name.padEnd(44)} ${shown} ${unit}\n`);
}

export function finish(bench: string): void {
  process.stdout.write(`${JSON.stringify({ bench, ...figures })}\n`);
}
