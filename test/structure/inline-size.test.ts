/**
 * Hot per-lookup and per-SPTE functions stay small enough for V8 to inline them into their
 * callers: TurboFan inlines no function whose bytecode is over --max-inlined-bytecode-size (460
 * bytes in Node 20's V8). find_page at 601 bytes ran as a call on every get_page (its rare zap
 * and sync branches moved into helpers: a hit 0.85x); make_spte_entry at 899 bytes ran as a call
 * on every rebuilt SPTE (its rare parts in helpers: v6.18 sync at 100 % changed 0.79x); likewise
 * link_shadow_page, mmu_set_spte and the memory caches' top-up. Raising the limit for the whole
 * process instead made faults slower to warm up and no faster. The check compiles the built
 * functions in a child node (one full shadow fault of the bench runs them all) and reads the
 * length V8 prints.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const V8_MAX_INLINED_BYTECODE_SIZE = 460;

const FULL_FAULT = `
  import { SUITES } from './dist/bench/suites/index.js';
  const full = SUITES.find((s) => s.name === 'sync').cases.find((c) => c.name.startsWith('v6.18: full shadow fault'));
  full.fn();`;

function bytecodeLength(fn: string): number {
  const r = spawnSync(process.execPath, ['--print-bytecode', `--print-bytecode-filter=${fn}`, '--input-type=module', '-e', FULL_FAULT], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  const m = /Bytecode length: (\d+)/.exec(r.stdout);
  expect(m, `no bytecode printed for ${fn}`).not.toBeNull();
  return Number(m![1]);
}

describe('hot functions V8 must be able to inline', () => {
  for (const fn of ['find_page', 'make_spte_entry', 'mmu_set_spte', 'link_shadow_page', '__kvm_mmu_topup_memory_cache']) {
    it(`${fn} is at most ${V8_MAX_INLINED_BYTECODE_SIZE} bytes of bytecode`, () => {
      expect(bytecodeLength(fn)).toBeLessThanOrEqual(V8_MAX_INLINED_BYTECODE_SIZE);
    });
  }
});
