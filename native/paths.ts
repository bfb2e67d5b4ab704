/** Where the built parts of Sieve are, relative to this compiled file (dist/native/paths.js). */
import { fileURLToPath } from 'node:url';

/** The built renderer (vite's output). */
export const RENDERER_DIR = fileURLToPath(new URL('../renderer/', import.meta.url));
/** The package root (assets/, package.json). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
