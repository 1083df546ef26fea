/**
 * Golden-vector support: read the vectors copied (unedited) into test/golden/, and compare our
 * output with the oracle's the way ../shared/tools/golden-check does (hex strings by value).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');

/** Every record of a golden file (plain or .gz), in order. */
export function readGolden(relPath: string): Record<string, unknown>[] {
  const full = join(GOLDEN_DIR, relPath);
  const buf = readFileSync(full);
  const text = full.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The golden files of one folder whose names match `re`. */
export function goldenFiles(folder: string, re: RegExp = /\.jsonl(\.gz)?$/): string[] {
  return readdirSync(join(GOLDEN_DIR, folder))
    .filter((f) => re.test(f))
    .sort()
    .map((f) => join(folder, f));
}

const HEX = /^0x[0-9a-fA-F]+$/;

/** Value equality as golden-check defines it: hex strings compare by numeric value. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string' && HEX.test(a) && HEX.test(b)) return BigInt(a) === BigInt(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => k in (b as object) && sameValue((a as never)[k], (b as never)[k]));
  }
  return a === b;
}

/**
 * Compare every key of `expected` with `actual`; returns a description of the first
 * difference, or null when all keys match.
 */
export function diffOut(expected: Record<string, unknown>, actual: Record<string, unknown> | undefined): string | null {
  if (!actual) return 'no output';
  for (const [k, v] of Object.entries(expected)) {
    if (!sameValue(v, actual[k])) return `${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(actual[k])}`;
  }
  return null;
}
