/**
 * What a step directive runs, before it runs: kvm-probe's do_step encoding (the instruction
 * stub, the registers it sets, the address it targets), shared by the model's vCPU (./vcpu.ts)
 * and the live runner (src/live), so both run the same bytes with the same registers.
 */
import { badInput } from '../bits/errors.js';
import { EFER_NX, X86_CR0_WP, X86_CR4_LA57, X86_CR4_PCIDE, X86_CR4_PGE, X86_CR4_PKE, X86_CR4_PSE, X86_CR4_SMAP, X86_CR4_SMEP } from '../bits/regs.js';
import { snippet } from '../bits/quote.js';
import { ENC_MOVCR, ENC_WRMSR, ENC_WRPKRU, encodeAccess, encodeInvlpg, parseHexBytes, type CodeBits } from './insn.js';
import { kvNum, kvOf, parseProbeNumber, posNum, type ProbeCmd } from './parse.js';
import type { ProbeLayout } from './layout.js';

export type ProbeRegName = 'rax' | 'rbx' | 'rcx' | 'rdx' | 'rip';

export interface RunPlan {
  /** 1: the stub is written to the current CPL's code page and RIP points at it; 2: RIP as set. */
  readonly run: 1 | 2;
  readonly insn: readonly number[];
  /** The address whose entries the step reports (gptes_after). */
  readonly target: bigint | null;
  /** Registers the directive sets, before the line's own rax=/rbx=/... overrides. */
  readonly regs: Partial<Record<ProbeRegName, bigint>>;
  /** fetch: put a `nop` at this address's backing byte (unless it is a table or outside RAM). */
  readonly nopAt: bigint | null;
}

/** The plan of a directive that runs the vCPU; null for one that does not (sregs, translate, ...). */
export function planRunStep(c: ProbeCmd, bits: CodeBits): RunPlan | null {
  switch (c.op) {
    case 'read':
    case 'write': {
      const size = Number(kvNum(c, 'size', BigInt(bits === 64 ? 8 : bits === 16 ? 2 : 4)));
      const target = posNum(c, 0);
      const insn = encodeAccess(bits, c.op === 'write', size);
      if (!insn) badInput(`line ${c.line}`, `size ${size} not encodable in ${bits}-bit code`);
      return { run: 1, insn, target, regs: { rbx: target, rax: kvNum(c, 'val', 0x5an) }, nopAt: null };
    }
    case 'fetch': {
      const target = posNum(c, 0);
      return { run: 2, insn: [], target, regs: { rip: target }, nopAt: kvOf(c, 'fill') !== '0' ? target : null };
    }
    case 'exec':
      return { run: 1, insn: parseHexBytes(c.pos.join(''), `line ${c.line}`), target: null, regs: {}, nopAt: null };
    case 'movcr3':
    case 'movcr0':
    case 'movcr4':
      return { run: 1, insn: ENC_MOVCR[Number(c.op.slice(5)) as 0 | 3 | 4], target: null, regs: { rax: posNum(c, 0) }, nopAt: null };
    case 'wrmsr': {
      const v = posNum(c, 1);
      return { run: 1, insn: ENC_WRMSR, target: null, regs: { rcx: posNum(c, 0), rax: v & 0xffffffffn, rdx: v >> 32n }, nopAt: null };
    }
    case 'invlpg': {
      // kvm-probe reports no gptes_after for invlpg.
      return { run: 1, insn: encodeInvlpg(bits), target: null, regs: { rbx: posNum(c, 0) }, nopAt: null };
    }
    case 'wrpkru':
      return { run: 1, insn: ENC_WRPKRU, target: null, regs: { rax: posNum(c, 0) & 0xffffffffn, rcx: 0n, rdx: 0n }, nopAt: null };
    case 'run':
      return { run: 2, insn: [], target: null, regs: {}, nopAt: null };
    default:
      return null;
  }
}

/** The line's register overrides in order (the tool skips a value it cannot parse; a later one wins). */
export function regOverrides(c: ProbeCmd): [ProbeRegName, bigint][] {
  const out: [ProbeRegName, bigint][] = [];
  for (const [k, v] of c.kv) {
    if (k !== 'rax' && k !== 'rbx' && k !== 'rcx' && k !== 'rdx' && k !== 'rip') continue;
    const x = parseProbeNumber(v);
    if (x !== null) out.push([k, x]);
  }
  return out;
}

/** fetch's `nop` at the byte backing `va` in the tree at `cr3` (not into a table, not outside RAM). */
export function placeFetchNop(L: ProbeLayout, cr3: bigint, va: bigint): void {
  const gpa = L.hostTranslate(cr3, va);
  if (gpa >= 0 && gpa < L.memSize && !L.isTable(gpa)) L.write(gpa, 0x90n, 1);
}

/** The stub written into the code page: 64 bytes of int3, then the instruction. */
export function writeStub(L: ProbeLayout, cpl: number, insn: readonly number[], stubOff: number): bigint {
  const stub = L.codeGpa(cpl) + stubOff;
  L.fill(stub, 64, 0xcc);
  insn.forEach((b, i) => L.write(stub + i, BigInt(b), 1));
  return L.codeVa(cpl) + BigInt(stubOff);
}

/** A step directive the planner does not know (and is not a host-side one). */
export function unknownStep(c: ProbeCmd): never {
  badInput(`line ${c.line}`, `unknown step '${snippet(c.op)}'`);
}

/** The `sregs` directive's toggles: the register (0: CR0, 4: CR4, 8: EFER) and the bit. */
const SREGS_TOGGLES: Readonly<Record<string, readonly [0 | 4 | 8, bigint]>> = {
  wp: [0, X86_CR0_WP],
  smep: [4, X86_CR4_SMEP],
  smap: [4, X86_CR4_SMAP],
  pke: [4, X86_CR4_PKE],
  pge: [4, X86_CR4_PGE],
  pse: [4, X86_CR4_PSE],
  pcide: [4, X86_CR4_PCIDE],
  la57: [4, X86_CR4_LA57],
  nx: [8, EFER_NX],
};

export interface SregsChange {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** `cpl=`: the segments are rebuilt for this CPL (null: kept). */
  cpl: number | null;
}

/** An `sregs` line applied to the current control registers, key by key in order (kvm-probe's do_step). */
export function applySregsLine(c: ProbeCmd, cur: { readonly cr0: bigint; readonly cr3: bigint; readonly cr4: bigint; readonly efer: bigint }): SregsChange {
  const r: SregsChange = { cr0: cur.cr0, cr3: cur.cr3, cr4: cur.cr4, efer: cur.efer, cpl: null };
  for (const [k] of c.kv) {
    const x = kvNum(c, k, 0n);
    const t = SREGS_TOGGLES[k];
    if (t) {
      const [reg, bit] = t;
      const upd = (v: bigint) => (x ? v | bit : v & ~bit);
      if (reg === 0) r.cr0 = upd(r.cr0);
      else if (reg === 4) r.cr4 = upd(r.cr4);
      else r.efer = upd(r.efer);
    } else if (k === 'cr0') r.cr0 = x;
    else if (k === 'cr3') r.cr3 = x;
    else if (k === 'cr4') r.cr4 = x;
    else if (k === 'efer') r.efer = x;
    else if (k === 'cpl') r.cpl = Number(x);
    else badInput(`line ${c.line}`, `unknown sregs key ${snippet(k)}`);
  }
  return r;
}
