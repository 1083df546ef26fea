/**
 * A kvm-probe VM block's configuration (the `vm` line, toggle lines) and the registers the tool
 * derives from it: defaults mode=long, cpl=3, CR0 = PG|WP|NE|ET|MP|PE, CR4 = PAE,
 * EFER = LME|LMA|NX, 32 MiB of RAM, root at 0x100000. Cold code.
 */
import { badInput } from '../bits/errors.js';
import { kvNum, kvOf, parseProbeFlags, parseProbeNumber, type ProbeCmd } from './parse.js';

export type ProbeMode = 'long' | 'pae' | 'legacy' | 'prot' | 'real';
export const PROBE_MODES: readonly ProbeMode[] = ['long', 'pae', 'legacy', 'prot', 'real'];

/** Toggles: -1 = default. */
export interface ProbeToggles {
  wp: number;
  nx: number;
  smep: number;
  smap: number;
  pke: number;
  pge: number;
  pse: number;
  la57: number;
  pcide: number;
  umip: number;
}

export interface ProbeVmConfig {
  name: string;
  /** The paging mode the tables follow. */
  mode: ProbeMode;
  /** The mode the vCPU starts in (default: mode). */
  start: ProbeMode;
  cpl: number;
  t: ProbeToggles;
  cr0: bigint | null;
  cr4: bigint | null;
  efer: bigint | null;
  /** root= (0: allocate the first table). */
  cr3: bigint;
  mem: number;
  /** tables=: where tables are allocated from. */
  tblNext: number;
  singlestep: boolean;
  warm: boolean;
  pkru: number | null;
  sysva: bigint;
  sysflags: bigint | null;
}

export function defaultConfig(): ProbeVmConfig {
  return {
    name: '',
    mode: 'long',
    start: 'long',
    cpl: 3,
    t: { wp: -1, nx: -1, smep: -1, smap: -1, pke: -1, pge: -1, pse: -1, la57: -1, pcide: -1, umip: -1 },
    cr0: null,
    cr4: null,
    efer: null,
    cr3: 0n,
    mem: 32 << 20,
    tblNext: 0x100000,
    singlestep: true,
    warm: true,
    pkru: null,
    sysva: 0n,
    sysflags: null,
  };
}

/** Guest paging levels of the tables (0: no paging). */
export function modeLevels(c: ProbeVmConfig): number {
  switch (c.mode) {
    case 'long':
      return c.t.la57 === 1 ? 5 : 4;
    case 'pae':
      return 3;
    case 'legacy':
      return 2;
    default:
      return 0;
  }
}

/** The registers of a mode (the start mode's, when the vCPU starts elsewhere: explicit CRs then ignored). */
function regsCfg(c: ProbeVmConfig, forStart: boolean): ProbeVmConfig {
  return forStart && c.start !== c.mode ? { ...c, mode: c.start, cr0: null, cr4: null, efer: null } : c;
}

export function cfgCr0(c0: ProbeVmConfig, forStart = false): bigint {
  const c = regsCfg(c0, forStart);
  if (c.cr0 !== null) return c.cr0;
  let cr0 = c.mode === 'real' ? 0x10n : c.mode === 'prot' ? 0x33n : 0x80000033n;
  if (c.mode !== 'real' && c.t.wp !== 0) cr0 |= 1n << 16n;
  return cr0;
}

export function cfgCr4(c0: ProbeVmConfig, forStart = false): bigint {
  const c = regsCfg(c0, forStart);
  if (c.cr4 !== null) return c.cr4;
  let cr4 = 0n;
  if (c.mode === 'long' || c.mode === 'pae') cr4 |= 1n << 5n;
  if (c.mode === 'legacy' && c.t.pse !== 0) cr4 |= 1n << 4n;
  if (c.mode !== 'legacy' && c.t.pse === 1) cr4 |= 1n << 4n;
  if (c.t.pge === 1) cr4 |= 1n << 7n;
  if (c.t.la57 === 1) cr4 |= 1n << 12n;
  if (c.t.umip === 1) cr4 |= 1n << 11n;
  if (c.t.pcide === 1) cr4 |= 1n << 17n;
  if (c.t.smep === 1) cr4 |= 1n << 20n;
  if (c.t.smap === 1) cr4 |= 1n << 21n;
  if (c.t.pke === 1) cr4 |= 1n << 22n;
  return cr4;
}

export function cfgEfer(c0: ProbeVmConfig, forStart = false): bigint {
  const c = regsCfg(c0, forStart);
  if (c.efer !== null) return c.efer;
  let e = 0n;
  if (c.mode === 'long') e |= 0x500n;
  if (c.t.nx !== 0 && c.mode !== 'real' && c.mode !== 'prot') e |= 0x800n;
  if (c.t.nx === 1) e |= 0x800n;
  return e;
}

const TOGGLES = ['wp', 'nx', 'smep', 'smap', 'pke', 'pge', 'pse', 'la57', 'pcide', 'umip'] as const;

/** apply_toggle: 0 applied, 1 not a toggle; a bad value throws. */
export function applyToggle(c: ProbeVmConfig, k: string, v: string, line: number): 0 | 1 {
  const isToggle = (TOGGLES as readonly string[]).includes(k);
  if (!isToggle && k !== 'cr0' && k !== 'cr4' && k !== 'efer') return 1;
  const x = parseProbeNumber(v);
  if (x === null) badInput(`line ${line}`, `bad value for ${k}`);
  if (isToggle) c.t[k as (typeof TOGGLES)[number]] = x !== 0n ? 1 : 0;
  else if (k === 'cr0') c.cr0 = x;
  else if (k === 'cr4') c.cr4 = x;
  else c.efer = x;
  return 0;
}

function modeOf(s: string, line: number, what: string): ProbeMode {
  if (!(PROBE_MODES as readonly string[]).includes(s)) badInput(`line ${line}`, `unknown ${what} ${s}`);
  return s as ProbeMode;
}

/** begin_vm: the configuration a `vm` line (or none) describes. */
export function configFromVmLine(c: ProbeCmd | null): ProbeVmConfig {
  const cfg = defaultConfig();
  if (c) {
    cfg.name = kvOf(c, 'name') ?? c.pos[0] ?? '';
    const m = kvOf(c, 'mode');
    if (m !== undefined) cfg.mode = modeOf(m, c.line, 'mode');
    cfg.cpl = Number(kvNum(c, 'cpl', 3n));
    cfg.mem = Number(kvNum(c, 'mem', BigInt(cfg.mem)));
    cfg.singlestep = kvNum(c, 'singlestep', 1n) !== 0n;
    cfg.warm = kvNum(c, 'warm', 1n) !== 0n;
    cfg.tblNext = Number(kvNum(c, 'tables', BigInt(cfg.tblNext)));
    cfg.cr3 = kvNum(c, 'root', 0n);
    cfg.sysva = kvNum(c, 'sysva', 0n);
    if (kvOf(c, 'pkru') !== undefined) cfg.pkru = Number(kvNum(c, 'pkru', 0n) & 0xffffffffn);
    cfg.start = cfg.mode;
    const st = kvOf(c, 'start');
    if (st !== undefined) cfg.start = modeOf(st, c.line, 'start mode');
    for (const [k, v] of c.kv) applyToggle(cfg, k, v, c.line);
    const sf = kvOf(c, 'sysflags');
    if (sf !== undefined) {
      const f = parseProbeFlags(sf);
      if (f === null) badInput(`line ${c.line}`, 'bad sysflags');
      cfg.sysflags = f;
    }
  }
  if (cfg.mode === 'real' || cfg.start === 'real') cfg.cpl = 0;
  if (cfg.mem <= 0 || cfg.mem % 4096 !== 0) badInput('vm.mem', `${cfg.mem} is not a positive multiple of 4 KiB`);
  if (cfg.cpl !== 0 && cfg.cpl !== 3) badInput('vm.cpl', `expected 0 or 3, got ${cfg.cpl}`);
  return cfg;
}
