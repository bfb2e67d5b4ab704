/**
 * The spec language: validation errors name the JSON path, canonical form fills defaults and sorts
 * keys, and the hash follows the canonical spec and its asset files.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalSpec, specHash, readSpecArg } from '../../native/filters/spec.js';
import { tmpDir } from './fixtures/tiny-pool.js';

const bad = (spec: unknown, message: RegExp) => assert.throws(() => canonicalSpec(spec), (e: Error & { code?: string }) => {
  assert.equal(e.code, 'bad_input');
  assert.match(e.message, message);
  return true;
});

test('errors name the JSON path and what is wrong', () => {
  bad({ and: [{ filter: 'basic' }, { filter: 'clip_score', arch: 'l14', fraction: 1.7 }] }, /^\$\.and\[1\]\.fraction: must be in \(0, 1\], got 1\.7$/);
  bad({ and: [{ filter: 'basic' }, { filter: 'clip_score', fraction: 0 }] }, /^\$\.and\[1\]\.fraction: must be in \(0, 1\], got 0$/);
  bad({ filter: 'clip_scor' }, /^\$\.filter: unknown filter "clip_scor"; known: none, basic, clip_score/);
  bad({ filter: 'clip_score', arch: 'l14' }, /^\$: filter clip_score needs exactly one of threshold, fraction$/);
  bad({ filter: 'clip_score', threshold: 0.3, fraction: 0.3 }, /needs exactly one of threshold, fraction, got threshold and fraction/);
  bad({ filter: 'clip_score', arch: 'h14', threshold: 0.3 }, /^\$\.arch: must be one of "b32", "l14", got "h14"$/);
  bad({ filter: 'clip_score', threshold: '0.3' }, /^\$\.threshold: must be a number, got "0\.3"$/);
  bad({ filter: 'basic', fraction: 0.3 }, /^\$\.fraction: unknown parameter for filter basic/);
  bad({ then: [] }, /^\$\.then: must be a non-empty list/);
  bad({ not: { filter: 'none' }, and: [] }, /"and" stands alone|"not" stands alone/);
  bad({ then: [{ filter: 'none' }, { not: { filter: 'text_based', synsets: '/nonexistent/ids.txt' } }] }, /^\$\.then\[1\]\.not\.synsets: file not found: \/nonexistent\/ids\.txt$/);
  bad({ filter: 'image_based', targets: '/nonexistent.npy', k: 10 }, /^\$\.targets: file not found/);
  bad([1, 2], /^\$: must be an object/);
  bad({}, /^\$: needs "filter"/);
});

test('canonical form: defaults filled, keys sorted, absolute paths; the hash ignores key order', () => {
  const a = canonicalSpec({ fraction: 0.3, filter: 'clip_score' });
  assert.deepEqual(a, { filter: 'clip_score', arch: 'l14', fraction: 0.3 });
  assert.equal(JSON.stringify(a), '{"filter":"clip_score","arch":"l14","fraction":0.3}');
  const b = canonicalSpec({ filter: 'clip_score', arch: 'l14', fraction: 0.3 });
  assert.equal(specHash(a), specHash(b));
  assert.notEqual(specHash(a), specHash(canonicalSpec({ filter: 'clip_score', arch: 'b32', fraction: 0.3 })));
  const then = canonicalSpec({ then: [{ filter: 'basic' }, { filter: 'clip_score', fraction: 0.5 }] });
  assert.notEqual(specHash(then), specHash(canonicalSpec({ and: [{ filter: 'basic' }, { filter: 'clip_score', fraction: 0.5 }] })));
});

test('asset files: relative to the spec file, and a changed file changes the hash', () => {
  const dir = tmpDir('spec');
  fs.writeFileSync(path.join(dir, 'ids.txt'), 'n02084071\n');
  fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({ filter: 'text_based', synsets: 'ids.txt' }));
  const spec = readSpecArg(path.join(dir, 'spec.json')) as Record<string, unknown>;
  assert.equal(spec.synsets, path.join(dir, 'ids.txt'));
  const h1 = specHash(spec as never);
  fs.writeFileSync(path.join(dir, 'ids.txt'), 'n02084071\nn01440764\n');
  assert.notEqual(specHash(spec as never), h1);
  assert.throws(() => readSpecArg('{"filter": "none",}'), /spec: not valid JSON/);
  assert.throws(() => readSpecArg(path.join(dir, 'missing.json')), /missing\.json: spec file not found/);
});
