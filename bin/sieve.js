#!/usr/bin/env node
// The `sieve` command: runs the compiled CLI (npm run build:node makes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/native/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('sieve: not built yet; run `npm run build` in the Sieve folder first\n');
  process.exit(1);
}
const { runCli } = await import(main);
process.exitCode = await runCli(process.argv.slice(2));
