/**
 * The JIT's inlining budget (src/bits/jit.ts) must be set before any model code runs hot: the CLI
 * and the bench import it first, so its module body runs before the model's modules load.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JIT_FLAGS, applyJitFlags } from '../../src/bits/jit.js';

const firstImport = (file: string) => /^import\s+['"]([^'"]+)['"]|^import\s.*?from\s+['"]([^'"]+)['"]/m.exec(readFileSync(file, 'utf8'));

describe('JIT flags', () => {
  it('bin/shadow-mmu.js and bench/run.ts import the flags module before anything else', () => {
    expect(firstImport('bin/shadow-mmu.js')?.[1]).toBe('../dist/src/bits/jit.js');
    expect(firstImport('bench/run.ts')?.[1]).toBe('../src/bits/jit.js');
  });
  it('are V8 inlining limits only, and applying them again is harmless', () => {
    for (const f of JIT_FLAGS) expect(f).toMatch(/^--max-inlined-bytecode-size-(cumulative|absolute)=\d+$/);
    expect(() => applyJitFlags()).not.toThrow();
  });
});
