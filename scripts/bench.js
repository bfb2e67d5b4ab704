#!/usr/bin/env node
// `npm run bench -- NAME [args]`: run bench/NAME.ts (compiled) and print its figures.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist/bench');
const [name, ...args] = process.argv.slice(2);
const available = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'common.js').map((f) => f.slice(0, -3)) : [];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|') || 'run npm run build:node first'}> [args]\n`);
  process.exit(2);
}
process.argv = [process.argv[0], path.join(dir, `${name}.js`), ...args];
await import(path.join(dir, `${name}.js`));
