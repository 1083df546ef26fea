/**
 * Hot per-lookup and per-SPTE functions stay small enough for V8 to inline them into their
 * callers: TurboFan inlines no function whose bytecode is over --max-inlined-bytecode-size (460
 * bytes in Node 20's V8). find_page at 601 bytes ran as a call on every get_page (its rare zap
 * and sync branches moved into helpers: a hit 0.85x); make_spte_entry at 899 bytes ran as a call
 * on every rebuilt SPTE (its rare parts in helpers: v6.18 sync at 100 % changed 0.79x). Raising
 * the limit for the whole process instead made faults slower to warm up and no faster. The
 * check compiles the built functions in a child node and reads the length V8 prints.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const V8_MAX_INLINED_BYTECODE_SIZE = 460;

function bytecodeLength(fn: string, script: string): number {
  const r = spawnSync(process.execPath, ['--print-bytecode', `--print-bytecode-filter=${fn}`, '--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).toBe(0);
  const m = /Bytecode length: (\d+)/.exec(r.stdout);
  expect(m, `no bytecode printed for ${fn}`).not.toBeNull();
  return Number(m![1]);
}

describe('hot functions V8 must be able to inline', () => {
  it('find_page (kvm_mmu_get_page\'s hash walk) is at most 460 bytes of bytecode', () => {
    const script = `
      import { createMachine, DEFAULT_HOST } from './dist/src/mmu/vm/machine.js';
      import { kvm_mmu_get_page } from './dist/src/mmu/pages/get_page.js';
      import { kvm_mmu_get_page_role } from './dist/src/roles/sp-role.js';
      import { getProfile } from './dist/src/profiles/index.js';
      const P = getProfile('v6.18');
      const ctx = { kind: 'shadow', mmu_role: 0x3714, direct_map: false, root_level: 4, shadow_root_level: 4 };
      const m = createMachine(P, { ...DEFAULT_HOST, nr_mmu_pages: 64 }, ctx);
      const role = kvm_mmu_get_page_role(P, ctx, { level: 1, direct: false, access: 7, gaddr: 0n });
      m.vcpu.mem.topup(true, 4);
      kvm_mmu_get_page(m.vcpu, 5, role);
      kvm_mmu_get_page(m.vcpu, 5, role);`;
    expect(bytecodeLength('find_page', script)).toBeLessThanOrEqual(V8_MAX_INLINED_BYTECODE_SIZE);
  });
  it('make_spte_entry (make_spte\'s per-SPTE part) is at most 460 bytes of bytecode', () => {
    const script = `
      import { SUITES } from './dist/bench/suites/index.js';
      const leaf = SUITES.find((s) => s.name === 'sync').cases.find((c) => c.name.startsWith('v6.18: leaf fault'));
      leaf.fn();`;
    expect(bytecodeLength('make_spte_entry', script)).toBeLessThanOrEqual(V8_MAX_INLINED_BYTECODE_SIZE);
  });
});
