/**
 * A small, strict argument parser for the `sieve` commands: declared flags only, typed values, and
 * a clear bad-input error for anything else (exit 2).
 */
import { SieveError } from '../errors.js';

export type FlagType = 'string' | 'int' | 'bool';

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | number | boolean>;
}

export function parseArgs(command: string, argv: string[], spec: Record<string, FlagType>): ParsedArgs {
  const positional: string[] = [];
  const flags: ParsedArgs['flags'] = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const type = spec[name];
    if (!type) throw new SieveError('bad_input', `sieve ${command}: unknown option --${name}`);
    if (type === 'bool') {
      flags[name] = true;
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new SieveError('bad_input', `sieve ${command}: --${name} needs a value`);
    if (type === 'int') {
      if (!/^-?\d+$/.test(value)) throw new SieveError('bad_input', `sieve ${command}: --${name} must be an integer, got ${JSON.stringify(value)}`);
      flags[name] = Number(value);
    } else flags[name] = value;
  }
  return { positional, flags };
}
