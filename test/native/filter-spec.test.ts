/**
 * The spec language: validation errors name the JSON path, canonical form fills defaults and sorts
 * keys, and the hash follows the canonical spec and its asset files.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { canonicalSpec, specHash, readSpecArg } from '../../native/filters/spec.js';
import { tmpDir } from './fixtures/tiny-pool.js';
import { CATALOGUE, type ParamSchema } from '../../native/filters/catalogue.js';

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

/** A value the schema accepts, to fill every required param but the one left out. */
function validValue(schema: ParamSchema, file: string): unknown {
  switch (schema.type) {
    case 'number':
    case 'int':
      return schema.max !== undefined ? schema.max : (schema.min ?? 0) + 1;
    case 'enum':
      return schema.values[0];
    case 'string':
      return 'x';
    case 'path':
    case 'file_or_keyword':
      return file;
  }
}

test('required params: every kind names the one left out, enforced by the validator itself', () => {
  const dir = tmpDir('spec-required');
  const file = path.join(dir, 'asset.bin');
  fs.writeFileSync(file, 'x');
  const required = CATALOGUE.flatMap((k) => Object.entries(k.params).filter(([, s]) => s.required).map(([p]) => `${k.name}.${p}`));
  // the kinds that cannot work without a file or number: the schema says so, not a per-kind hook
  assert.deepEqual(required.sort(), ['image_based.targets', 'metaclip.t', 'normsim.target', 'subset.file', 'text_based.synsets', 'vas.target']);
  for (const kind of CATALOGUE) {
    for (const [missing, schema] of Object.entries(kind.params)) {
      if (!schema.required) continue;
      const spec: Record<string, unknown> = { filter: kind.name };
      for (const [p, s] of Object.entries(kind.params)) if (s.required && p !== missing) spec[p] = validValue(s, file);
      // inside a then, so the message must carry the full JSON path
      bad({ then: [{ filter: 'none' }, spec] }, new RegExp(`^\\$\\.then\\[1\\]\\.${missing}: required by filter ${kind.name}: `));
    }
  }
});

test('file or keyword: a keyword stays, a file is resolved, stamped into the hash, and a missing one names its path', () => {
  const dir = tmpDir('spec-file-or-keyword');
  const target = path.join(dir, 'target.npy');
  fs.writeFileSync(target, 'first');
  fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({ then: [{ filter: 'clip_score', fraction: 0.5 }, { filter: 'vas', target: 'target.npy', fraction: 0.3 }] }));
  const spec = readSpecArg(path.join(dir, 'spec.json')) as { then: Record<string, unknown>[] };
  assert.equal(spec.then[1].target, target, 'relative to the spec file, made absolute');
  const h1 = specHash(spec as never);
  assert.equal(specHash(readSpecArg(path.join(dir, 'spec.json')) as never), h1, 'same file, same hash');
  // a rewritten target (different size; mtime moved on too) must not reuse the old decision
  fs.writeFileSync(target, 'second, longer');
  fs.utimesSync(target, new Date(), new Date(Date.now() + 5000));
  assert.notEqual(specHash(spec as never), h1);
  // the keyword is no file: kept as it is, and the hash has no stamp for it
  const pool = canonicalSpec({ filter: 'vas', target: 'pool', fraction: 0.3 }) as Record<string, unknown>;
  assert.equal(pool.target, 'pool');
  assert.equal(specHash(pool as never), specHash(canonicalSpec({ fraction: 0.3, target: 'pool', filter: 'vas' })));
  bad({ then: [{ filter: 'none' }, { filter: 'vas', target: path.join(dir, 'gone.npy'), fraction: 0.3 }] }, /^\$\.then\[1\]\.target: file not found: .*gone\.npy \(or one of "pool"\)$/);
  bad({ filter: 'vas', target: dir, fraction: 0.3 }, /^\$\.target: not a file: /);
  // a number param with keywords: normsim p 2 | "inf"
  bad({ filter: 'normsim', target, p: 'max', fraction: 0.3 }, /^\$\.p: must be a number or one of "inf", got "max"$/);
  assert.equal((canonicalSpec({ filter: 'normsim', target, p: 'inf', fraction: 0.3 }) as Record<string, unknown>).p, 'inf');
  assert.equal((canonicalSpec({ filter: 'normsim', target, p: 2, fraction: 0.3 }) as Record<string, unknown>).p, 2);
});

test('a kind revised past 1 puts its revision into the hash; an unrevised kind hashes as its canonical JSON', () => {
  // the hash written out by hand: sha256 of the canonical JSON, a newline, then the stamps
  const byHand = (spec: unknown, stamps: string[]) =>
    crypto.createHash('sha256').update(JSON.stringify(spec)).update('\n').update(stamps.join('\n')).digest('hex').slice(0, 24);
  const basic = canonicalSpec({ filter: 'basic' });
  assert.equal(specHash(basic), byHand(basic, []));
  const revised = CATALOGUE.filter((k) => (k.revision ?? 1) > 1).map((k) => k.name);
  assert.ok(revised.includes('negclip') && revised.includes('vas_d'), `revised kinds: ${revised.join(', ')}`);
  const negclip = canonicalSpec({ filter: 'negclip', fraction: 0.3 });
  const rev = CATALOGUE.find((k) => k.name === 'negclip')?.revision;
  assert.equal(specHash(negclip), byHand(negclip, [`negclip@r${rev}`]));
  assert.notEqual(specHash(negclip), byHand(negclip, []), 'a decision stored before the revision is not reused');
  const nested = canonicalSpec({ then: [{ filter: 'basic' }, { filter: 'negclip', fraction: 0.3 }] });
  assert.equal(specHash(nested), byHand(nested, [`negclip@r${rev}`]));
});
