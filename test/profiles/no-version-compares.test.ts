/**
 * Profiles, not forks: code outside src/profiles/ asks what a kernel does (a behaviour trait),
 * never which kernel it is. This scans the sources for comparisons against version strings
 * ('5.16', '6.x', 'v6.18', ...) and the trait tables for traits whose values are versions.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { traitSchema } from '../../src/profiles/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

/** A version-looking string: 5.16, 6.x, v6.18, 5.x, 6.18.2. */
const VERSION = String.raw`v?\d+\.(?:\d+|x)(?:\.\d+)?`;
const QUOTED = String.raw`(['"\`])${VERSION}\1`;
const COMPARE = [
  new RegExp(String.raw`[!=]==?\s*${QUOTED}`),
  new RegExp(String.raw`${QUOTED}\s*[!=]==?`),
  new RegExp(String.raw`\bcase\s+${QUOTED}\s*:`),
];
const UNION = [new RegExp(String.raw`${QUOTED}\s*\|`), new RegExp(String.raw`\|\s*${QUOTED}`)];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The code of a file with comments blanked (line numbers kept), so prose may name versions. */
function code(text: string): string[] {
  const noBlock = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  return noBlock.split('\n').map((l) => l.replace(/(^|[^:'"`\\])\/\/.*$/, '$1'));
}

function hits(files: readonly string[], patterns: readonly RegExp[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    code(readFileSync(f, 'utf8')).forEach((line, i) => {
      if (patterns.some((re) => re.test(line))) out.push(`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  return out;
}

describe('no version compares', () => {
  const all = tsFiles(SRC);
  const outside = all.filter((f) => !relative(SRC, f).startsWith('profiles'));

  it('scans the sources it is meant to', () => {
    expect(outside.length).toBeGreaterThan(50);
    expect(outside.some((f) => f.endsWith(join('mmu', 'fault', 'fault.ts')))).toBe(true);
  });

  it('the detector sees the forms it forbids', () => {
    for (const s of ["if (t.x === '5.16') {", "t.y !== '6.x' &&", "case 'v6.18':", "'5.x' === t.z"]) expect(COMPARE.some((re) => re.test(s)), s).toBe(true);
    for (const s of ["profile: 'v6.18'", "getProfile('v5.16')", "x === 'mmu_role'"]) expect(COMPARE.some((re) => re.test(s)), s).toBe(false);
    expect(UNION.some((re) => re.test("readonly f: '5.16' | '6.x';"))).toBe(true);
  });

  it('no code outside src/profiles/ compares with a version string', () => {
    expect(hits(outside, COMPARE)).toEqual([]);
  });

  it('no type in the sources is a union of version strings', () => {
    expect(hits(all, UNION)).toEqual([]);
  });

  it('no trait takes a version string as a value', () => {
    const re = new RegExp(`^${VERSION}$`);
    const bad = traitSchema()
      .filter((t) => (t.values ?? []).some((v) => re.test(v)))
      .map((t) => `${t.domain}.${t.path}: ${t.values!.join(' | ')}`);
    expect(bad).toEqual([]);
  });
});
