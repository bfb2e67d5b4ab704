/**
 * Errors the user can act on. `bad_input` is for anything wrong with what the user gave us (a file,
 * a row, a field, a spec); the message names it. The CLI maps bad_input to exit 2, everything else
 * to exit 1; the transports carry `code` and `message` to the renderer.
 */
import type { SieveErrorInfo } from './api.js';

export class SieveError extends Error {
  constructor(
    readonly code: SieveErrorInfo['code'],
    message: string,
  ) {
    super(message);
    this.name = 'SieveError';
  }
}

/** Something wrong with the user's input: `where` is the file (and row or field), `what` the problem. */
export function badInput(where: string, what: string): SieveError {
  return new SieveError('bad_input', `${where}: ${what}`);
}

export function notFound(where: string, what: string): SieveError {
  return new SieveError('not_found', `${where}: ${what}`);
}

export function errorInfo(e: unknown): SieveErrorInfo {
  if (e instanceof SieveError) return { code: e.code, message: e.message };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}
