import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layering the README describes: a folder imports only folders before it (type imports
 * included), and within src/mmu the same holds for its sections. No import cycle between files.
 */
const ORDER = ['bits', 'profiles', 'roles', 'trace', 'cpu', 'cache', 'guest', 'mmu', 'probe', 'scenario', 'eval', 'diff', 'fuzz', 'live', 'demo', 'cli', ''];
const MMU_ORDER = ['spte', 'pages', 'fault', 'vm', ''];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(normalize(p));
  }
  return out;
}

const SPEC = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function imports(file: string): string[] {
  const s = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of s.matchAll(SPEC)) {
    const spec = (m[1] ?? m[2])!;
    out.push(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** [folder under src, section under src/mmu ('' outside it or at its top)]. */
function place(file: string): [string, string] {
  const parts = relative('src', file).split('/');
  const folder = parts.length > 1 ? parts[0]! : '';
  const section = folder === 'mmu' && parts.length > 2 ? parts[1]! : '';
  return [folder, section];
}

const FILES = sources('src');
const GRAPH = new Map(FILES.map((f) => [f, imports(f)]));

describe('imports flow one way', () => {
  it('every src folder is in the layering, and the graph was read', () => {
    const folders = new Set(FILES.map((f) => place(f)[0]));
    expect([...folders].filter((f) => !ORDER.includes(f))).toEqual([]);
    expect([...GRAPH.values()].reduce((n, xs) => n + xs.length, 0)).toBeGreaterThan(500);
  });
  it('a folder imports only folders before it; mmu sections only earlier sections', () => {
    const bad: string[] = [];
    for (const [f, deps] of GRAPH) {
      const [ff, fs] = place(f);
      for (const d of deps) {
        const [df, ds] = place(d);
        if (ff !== df) {
          if (ORDER.indexOf(df) > ORDER.indexOf(ff)) bad.push(`${f} -> ${d}`);
        } else if (ff === 'mmu' && fs !== ds && MMU_ORDER.indexOf(ds) > MMU_ORDER.indexOf(fs)) bad.push(`${f} -> ${d}`);
      }
    }
    expect(bad).toEqual([]);
  });
  it('outside src/mmu, code imports the MMU through its one entry (mmu/index.ts)', () => {
    const bad: string[] = [];
    for (const [f, deps] of GRAPH) {
      if (place(f)[0] === 'mmu') continue;
      for (const d of deps) if (place(d)[0] === 'mmu' && d !== normalize('src/mmu/index.ts')) bad.push(`${f} -> ${d}`);
    }
    expect(bad).toEqual([]);
  });
  it('no import cycle between files', () => {
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const visit = (u: string, stack: string[]): void => {
      state.set(u, 1);
      stack.push(u);
      for (const v of GRAPH.get(u) ?? []) {
        if (state.get(v) === 1) cycles.push([...stack.slice(stack.indexOf(v)), v].join(' -> '));
        else if (!state.has(v)) visit(v, stack);
      }
      stack.pop();
      state.set(u, 2);
    };
    for (const f of FILES) if (!state.has(f)) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
