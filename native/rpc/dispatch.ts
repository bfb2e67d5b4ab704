/**
 * Calling a SieveApi method by name with positional params: what every transport does with a
 * request. Unknown names are refused here, once, for IPC and WebSocket alike.
 */
import { SIEVE_METHODS, type SieveApi, type SieveMethod } from '../api.js';
import { SieveError } from '../errors.js';

export function isSieveMethod(name: unknown): name is SieveMethod {
  return typeof name === 'string' && (SIEVE_METHODS as readonly string[]).includes(name);
}

export async function dispatch(api: SieveApi, method: unknown, params: unknown): Promise<unknown> {
  if (!isSieveMethod(method)) throw new SieveError('bad_input', `unknown API method ${JSON.stringify(method)}`);
  const args = Array.isArray(params) ? params : [];
  const fn = api[method] as (...a: unknown[]) => Promise<unknown>;
  return fn.apply(api, args);
}
