#!/usr/bin/env node
// `npm start`: open the desktop app on the bundled demo pool (generated on first start). Where the
// Electron binary cannot be had (no network at install time), say so in one line and serve the same
// app on 127.0.0.1 instead.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { userDataDir } = await import(path.join(root, 'dist/native/pool/workspace.js'));
const { runCli } = await import(path.join(root, 'dist/native/cli/main.js'));

const pool = process.argv[2] ?? path.join(userDataDir(), 'demo-pool');
if (!process.argv[2] && !existsSync(path.join(pool, '00000000.parquet'))) {
  process.stderr.write(`Generating the demo pool in ${pool} (first start only)...\n`);
  const code = await runCli(['demo', pool]);
  if (code !== 0) process.exit(code);
}

let electronBinary = null;
try {
  // electron's package exports the path of its binary and throws when the download failed
  electronBinary = createRequire(import.meta.url)('electron');
  if (typeof electronBinary !== 'string' || !existsSync(electronBinary)) electronBinary = null;
} catch {
  electronBinary = null;
}

if (electronBinary) {
  const child = spawn(electronBinary, [path.join(root, 'dist/electron/main.js'), pool], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  process.stderr.write(
    "Electron's binary is not installed here (it downloads at install time, which needs the network), so Sieve runs in your browser instead:\n",
  );
  process.exitCode = await runCli(['serve', pool, ...(process.env.SIEVE_PORT ? ['--port', process.env.SIEVE_PORT] : [])]);
}
