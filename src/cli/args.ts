/**
 * Argument parsing shared by the subcommands: node:util parseArgs with usage errors turned
 * into one-line ShadowMmuErrors (exit 2), and the options every command takes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ShadowMmuError } from '../bits/errors.js';
import { getProfile, type Profile } from '../profiles/index.js';

export type Format = 'text' | 'json';

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  format: { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export function usageError(cmd: string, msg: string): never {
  throw new ShadowMmuError('EUSAGE', `${cmd}: ${msg} (see: shadow-mmu ${cmd.split(' ')[0]} --help)`);
}

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_OPTIONS & O; allowPositionals: boolean; strict: true }>>;

/** parseArgs with the common options added and errors made one-line usage errors. */
export function parse<O extends Options>(
  cmd: string,
  argv: string[],
  options: O,
  allowPositionals = true,
): Parsed<O> {
  try {
    return parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    usageError(cmd, (e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

export function formatOf(cmd: string, v: unknown): Format {
  if (v === 'text' || v === 'json') return v;
  usageError(cmd, `--format must be text or json, got ${JSON.stringify(v)}`);
}

export function profileOf(cmd: string, v: unknown): Profile {
  if (typeof v !== 'string' || v === '') usageError(cmd, '--profile is required');
  return getProfile(v);
}
