/**
 * Test support for the fault path: the kvm-probe guest layout (test/golden/kvm/README.md), a
 * minimal executor over the src/mmu/vm/api.ts facade (native accesses retried through
 * kvm_mmu_page_fault, emulated writes through the walker and kvm_mmu_pte_write), and the
 * oracle's event encoding. The real executor is the scenario driver's; this one only drives
 * the MMU in unit tests.
 */
import { GuestMemory } from '../../src/guest/memory.js';
import * as api from '../../src/mmu/vm/api.js';
import { getProfile } from '../../src/profiles/index.js';
import type { TraceEvent } from '../../src/trace/events.js';
import { auditVm } from '../../src/mmu/vm/api.js';
import { formatViolation } from '../../src/mmu/vm/audit.js';

export const VA = 0x8080604000n;
export const USER_CODE = 0x7f8000000000n;

/** 4-level tables as kvm-probe builds them: VA's tables at 0x100000.., code at 0x1fc4000.. */
export function probeGuest(): GuestMemory {
  const m = new GuestMemory();
  m.addSlot(0, 32 << 20);
  const w = (gpa: number, v: bigint) => m.writeBig(gpa, v);
  // VA = 0x8080604000: PML4 1, PDPT 2, PD 3, PT 4.
  w(0x100008, 0x101007n);
  w(0x101010, 0x102007n);
  w(0x102018, 0x103007n);
  w(0x103020, 0x300007n);
  // Code pages (A/D preset), PML4 slot 255.
  w(0x100000 + 255 * 8, 0x1fc4027n);
  w(0x1fc4000, 0x1fc5027n);
  w(0x1fc5000, 0x1fc6027n);
  w(0x1fc6000, 0x1fc0067n);
  w(0x1fc6008, 0x1fc1063n);
  w(0x1fc0000, 0x90n);
  w(0x1fc1000, 0x90n);
  w(0x300000, 0x1111n);
  w(0x301000, 0x2222n);
  return m;
}

/** The table pages of VA mapped user-writable at 0x10000000000 + 0x1000 * k (L1, L2, L3, L4). */
export function mapTableAliases(m: GuestMemory): void {
  const w = (gpa: number, v: bigint) => m.writeBig(gpa, v);
  w(0x100000 + 2 * 8, 0x104007n);
  w(0x104000, 0x105007n);
  w(0x105000, 0x106007n);
  w(0x106000, 0x103007n);
  w(0x106008, 0x102007n);
  w(0x106010, 0x101007n);
  w(0x106018, 0x100007n);
}

export const LONG_MODE = { cr0: 0x80010033n, cr3: 0x100000n, cr4: 0x20n, efer: 0xd00n };

/** The oracle's event encoding (README "Shadow / mmu events"). */
export function encode(ev: TraceEvent): Record<string, unknown> | null {
  const hex = (n: number) => '0x' + n.toString(16);
  switch (ev.event) {
    case 'kvm_mmu_get_page':
      return { ev: 'get_page', gfn: hex(ev.gfn), role: hex(ev.role), created: ev.created ? 1 : 0, root_count: ev.root_count, unsync: ev.unsync ? 1 : 0 };
    case 'kvm_mmu_prepare_zap_page':
    case 'kvm_mmu_unsync_page':
    case 'kvm_mmu_sync_page':
      return { ev: ev.event.slice(8), gfn: hex(ev.gfn), role: hex(ev.role), root_count: ev.root_count, unsync: ev.unsync ? 1 : 0 };
    case 'kvm_mmu_spte_requested':
      return { ev: 'spte_requested', gfn: hex(ev.gfn), level: ev.level };
    case 'kvm_mmu_set_spte': {
      const flags = (BigInt(ev.spte_hi) << 32n | BigInt(ev.spte_lo)) & 0xfff0000000000fffn;
      return { ev: 'set_spte', gfn: hex(ev.gfn), level: ev.level, spte_flags: '0x' + flags.toString(16), r: ev.r ? 1 : 0, x: ev.x ? 1 : 0, u: ev.u };
    }
    default:
      return null;
  }
}

export interface Rig {
  readonly vm: api.ShadowVm;
  readonly mem: GuestMemory;
  events: Record<string, unknown>[];
  /** Audit violations seen so far (each step audits). */
  readonly violations: string[];
}

export function rig(profile: string, mem: GuestMemory, regs: api.VcpuRegisters = LONG_MODE, host: Parameters<typeof api.createVm>[0]['host'] = { mmio_caching: false } as never): Rig {
  const vm = api.createVm({ profile: getProfile(profile), guest: mem, regs, host });
  const r: Rig = { vm, mem, events: [], violations: [] };
  api.onEvent(vm, (ev) => {
    const e = encode(ev);
    if (e) r.events.push(e);
  });
  return r;
}

function check(r: Rig, step: string): void {
  for (const v of auditVm(r.vm, step)) r.violations.push(formatViolation(v));
}

export type Outcome = { kind: 'ok'; gpa: number } | { kind: 'pf'; error_code: number } | { kind: 'gp' } | { kind: 'emulated'; gpa: number } | { kind: 'mmio' };

/**
 * A native access at `cpl` (the retry loop of a vCPU): faults go to kvm_mmu_page_fault; an
 * emulated write stores `value` through the walker and calls kvm_mmu_pte_write. Returns what
 * the guest saw; `r.events` holds the events of this step.
 */
export function access(r: Rig, va: bigint, kind: api.AccessKind, cpl = 3, value = 0n, size: 1 | 2 | 4 | 8 = 8): Outcome {
  r.events = [];
  for (let n = 0; n < 8; n++) {
    const hw = api.cpuAccess(r.vm, va, kind, cpl);
    if (hw.ok) {
      if (kind === 'write') r.mem.writeBig(hw.gpa, value, size);
      check(r, `${kind} ${va.toString(16)}`);
      return { kind: 'ok', gpa: hw.gpa };
    }
    if (hw.vector === 13) return { kind: 'gp' };
    const pf = api.pageFault(r.vm, hw.cr2, hw.error_code, cpl);
    if (pf.inject) {
      check(r, `${kind} ${va.toString(16)}`);
      return { kind: 'pf', error_code: pf.inject.error_code };
    }
    if (pf.ret === 'RET_PF_EMULATE') {
      const out = emulate(r, va, kind, cpl, value, size);
      check(r, `${kind} ${va.toString(16)} (emulated)`);
      return out;
    }
  }
  throw new Error('access: no progress after 8 faults');
}

/** The emulator's access (also what a CPL-0 instruction does in the kvm oracle). */
export function emulate(r: Rig, va: bigint, kind: api.AccessKind, cpl: number, value = 0n, size: 1 | 2 | 4 | 8 = 8): Outcome {
  const t = api.gvaToGpa(r.vm, va, kind, cpl);
  if (!t.ok) return { kind: 'pf', error_code: t.error_code };
  if (!r.mem.isRam(t.gpa)) return { kind: 'mmio' };
  if (kind === 'write') {
    r.mem.writeBig(t.gpa, value, size);
    api.pteWrite(r.vm, t.gpa, size);
  }
  return { kind: 'emulated', gpa: t.gpa };
}
