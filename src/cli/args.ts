/**
 * Argument parsing shared by the subcommands: node:util parseArgs with usage errors turned
 * into one-line ShadowMmuErrors (exit 2), and the options every command takes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ShadowMmuError } from '../bits/errors.js';
import { quote } from '../bits/quote.js';
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

/**
 * `--opt -1` for a string option: parseArgs reads "-1" as an option and calls the argument
 * ambiguous; join it as `--opt=-1` so the option's own check can say what is wrong with it.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const takes = (tok: string): boolean => {
    if (tok.startsWith('--')) return options[tok.slice(2)]?.type === 'string';
    if (/^-[A-Za-z]$/.test(tok)) return Object.values(options).some((o) => o.short === tok[1] && o.type === 'string');
    return false;
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    const next = argv[i + 1];
    if (next !== undefined && /^-\d/.test(next) && !t.includes('=') && takes(t)) {
      out.push(`${t.startsWith('--') ? t : '--' + Object.entries(options).find(([, o]) => o.short === t[1])![0]}=${next}`);
      i++;
    } else out.push(t);
  }
  return out;
}

/** parseArgs with the common options added and errors made one-line usage errors. */
export function parse<O extends Options>(
  cmd: string,
  argv: string[],
  options: O,
  allowPositionals = true,
): Parsed<O> {
  const all: Options = { ...COMMON_OPTIONS, ...options };
  try {
    return parseArgs({
      args: joinNegativeValues(argv, all),
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0] ?? 'bad arguments';
    const unknown = /^Unknown option '([^']*)'/.exec(msg);
    const ambiguous = /^Option '(-[^ ']*)[^']*' argument is ambiguous/.exec(msg);
    usageError(cmd, unknown ? `unknown option ${quote(unknown[1])}` : ambiguous ? `${ambiguous[1]} needs a value (give it as ${ambiguous[1]}=VALUE if it starts with -)` : msg);
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
