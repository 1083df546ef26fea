/**
 * The kvm-probe scenario language (shared/tools/kvm-probe/README.md): one directive per line,
 * `#` starts a comment, the first token is the directive, `key=value` tokens are named
 * arguments and the rest positional (at most six). Numbers are C-style (strtoull base 0: `0x`
 * hex, a leading `0` octal, else decimal) with an optional k/m/g suffix. Cold code: BigInt.
 */
import { badInput } from '../bits/errors.js';
import { snippet } from '../bits/quote.js';

/** One tokenized scenario line. */
export interface ProbeCmd {
  readonly op: string;
  readonly pos: readonly string[];
  /** Named arguments in line order (a key may repeat; lookups take the first). */
  readonly kv: readonly (readonly [string, string])[];
  /** 1-based line number. */
  readonly line: number;
  readonly text: string;
}

const MAX_POS = 6;
const MAX_KV = 24;
const U64 = (1n << 64n) - 1n;

/** Tokenize one line; null for blank and comment-only lines. */
export function tokenizeLine(text: string, line: number): ProbeCmd | null {
  const hash = text.indexOf('#');
  const body = hash >= 0 ? text.slice(0, hash) : text;
  const toks = body.split(/[ \t\r\n]+/).filter((t) => t !== '');
  if (toks.length === 0) return null;
  const [op, ...rest] = toks as [string, ...string[]];
  const pos: string[] = [];
  const kv: [string, string][] = [];
  for (const t of rest) {
    const eq = t.indexOf('=');
    if (eq > 0) {
      if (kv.length >= MAX_KV) badInput(`line ${line}`, 'too many key=value arguments');
      kv.push([t.slice(0, eq), t.slice(eq + 1)]);
    } else {
      if (pos.length >= MAX_POS) badInput(`line ${line}`, 'too many arguments');
      pos.push(t);
    }
  }
  return { op, pos, kv, line, text };
}

/** Tokenize a whole scenario (a string with newlines, or the lines of a `scenario` array). */
export function parseProbeScenario(src: string | readonly string[]): ProbeCmd[] {
  const lines = typeof src === 'string' ? src.split('\n') : src;
  const out: ProbeCmd[] = [];
  lines.forEach((l, i) => {
    if (typeof l !== 'string') badInput(`scenario[${i}]`, 'expected a string');
    const c = tokenizeLine(l, i + 1);
    if (c) out.push(c);
  });
  return out;
}

/** strtoull(s, &end, 0) plus a k/m/g suffix, wrapping at 64 bits; null when malformed. */
export function parseProbeNumber(s: string): bigint | null {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgG]?)$/.exec(s);
  if (!m) return null;
  const [, sign, digits, suffix] = m as unknown as [string, string, string, string];
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) v = BigInt('0o' + digits.slice(1));
  else v = BigInt(digits);
  if (v > U64) return null; // ERANGE
  if (sign === '-') v = (-v) & U64;
  const shift = { '': 0n, k: 10n, m: 20n, g: 30n }[suffix.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return (v << shift) & U64;
}

/** The first value of a named argument. */
export function kvOf(c: ProbeCmd, key: string): string | undefined {
  for (const [k, v] of c.kv) if (k === key) return v;
  return undefined;
}

/** A named number, or `dflt` when absent; a malformed one is an error naming the line. */
export function kvNum(c: ProbeCmd, key: string, dflt: bigint): bigint {
  const s = kvOf(c, key);
  if (s === undefined) return dflt;
  const v = parseProbeNumber(s);
  if (v === null) badInput(`line ${c.line}`, `bad number for ${key}: ${snippet(s)}`);
  return v;
}

/** Positional number `i` (required). */
export function posNum(c: ProbeCmd, i: number): bigint {
  const s = c.pos[i];
  if (s === undefined) badInput(`line ${c.line}`, `'${snippet(c.op)}' needs argument ${i + 1}`);
  const v = parseProbeNumber(s);
  if (v === null) badInput(`line ${c.line}`, `bad number: ${snippet(s)}`);
  return v;
}

const FLAG_NAMES: Readonly<Record<string, bigint>> = {
  p: 1n,
  w: 2n,
  rw: 2n,
  u: 4n,
  us: 4n,
  pwt: 8n,
  pcd: 16n,
  a: 32n,
  d: 64n,
  ps: 128n,
  g: 256n,
  nx: 1n << 63n,
  xd: 1n << 63n,
  none: 0n,
  '-': 0n,
};

/** "P|W|U|A|D|PS|G|NX|PWT|PCD|bitN|0x.." (separators `|`, `,`, `+`); null when malformed. */
export function parseProbeFlags(s: string): bigint | null {
  let f = 0n;
  for (const t of s.split(/[|,+]/)) {
    if (t === '') continue;
    const named = FLAG_NAMES[t.toLowerCase()];
    if (named !== undefined) {
      f |= named;
      continue;
    }
    if (/^bit/i.test(t)) {
      const b = Number.parseInt(t.slice(3), 10);
      if (!(b >= 0 && b <= 63)) return null;
      f |= 1n << BigInt(b);
      continue;
    }
    const v = parseProbeNumber(t);
    if (v === null) return null;
    f |= v;
  }
  return f;
}

/** Flags spelled as gen-oracle.mjs spells them (P|W|U|...|bitN), for ids and scenarios built here. */
export function probeFlagString(v: bigint): string {
  const names: string[] = [];
  const order: [string, bigint][] = [
    ['P', 1n],
    ['W', 2n],
    ['U', 4n],
    ['PWT', 8n],
    ['PCD', 16n],
    ['A', 32n],
    ['D', 64n],
    ['PS', 128n],
    ['G', 256n],
    ['NX', 1n << 63n],
  ];
  for (const [n, b] of order) if (v & b) names.push(n);
  for (let i = 9n; i < 63n; i++) if ((v >> i) & 1n) names.push('bit' + i);
  return names.length ? names.join('|') : '0';
}

/** The step directives (the first one in a VM block creates the VM and runs the warm-up). */
export const PROBE_STEP_OPS: ReadonlySet<string> = new Set([
  'read',
  'write',
  'fetch',
  'exec',
  'movcr3',
  'invlpg',
  'movcr0',
  'movcr4',
  'wrmsr',
  'sregs',
  'translate',
  'hostwrite',
  'hostread',
  'stats',
  'ptes',
  'run',
  'note',
  // the model's extension: WRPKRU with EAX = the value (kvm-probe sets PKRU only at VM creation)
  'wrpkru',
]);

/** A step's `args` as kvm-probe prints them: arg0.. then the named ones, all strings. */
export function probeArgs(c: ProbeCmd): Record<string, string> {
  const o: Record<string, string> = {};
  c.pos.forEach((p, i) => (o[`arg${i}`] = p));
  for (const [k, v] of c.kv) o[k] = v;
  return o;
}
