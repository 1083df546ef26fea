/**
 * Seeded random VM scenarios for the fuzzer: a guest of one paging mode (32-bit, PSE, PAE,
 * 4-level, 5-level, or L2 under nested NPT or nested EPT) with a few mapped pages, then steps drawn from CPU
 * accesses at CPL 3 and 0, guest page-table writes the MMU sees (emulated) and writes it does not
 * (host), INVLPG and MOV CR3. The same seed gives the same scenario on every machine.
 */

/** xorshift32: small, fast, and the same everywhere. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

/** The seed of VM `i` of a run seeded `seed` (independent of how VMs are split over workers). */
export function vmSeed(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

interface Mode {
  readonly name: string;
  readonly regs: { cr0: string; cr4: string; efer: string };
  readonly format: string;
  readonly host?: Record<string, unknown>;
  /** VA bases the mapped pages are spread over. */
  readonly vas: readonly bigint[];
  readonly pte: 4 | 8;
  readonly nx: boolean;
  /** VM-level operations mixed in: NX huge page recovery, dirty logging, memslot additions. */
  readonly extra?: 'nx' | 'dirty' | 'slots';
  /** Nested EPT: the tables are L1's EPT (R/W/X, memory type, A/D bits 8/9), CR3 is this EPTP. */
  readonly eptp?: string;
}

export const MODES: readonly Mode[] = [
  { name: 'legacy32', regs: { cr0: '0x80010033', cr4: '0x0', efer: '0x0' }, format: 'pt32', vas: [0x400000n, 0x40000000n, 0x80000000n, 0xc0000000n], pte: 4, nx: false },
  { name: 'pse32', regs: { cr0: '0x80010033', cr4: '0x10', efer: '0x0' }, format: 'pt32', vas: [0x400000n, 0x40000000n, 0xc0400000n], pte: 4, nx: false },
  { name: 'pae', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0x800' }, format: 'pae', vas: [0x400000n, 0x40000000n, 0x80000000n, 0xc0000000n], pte: 8, nx: true },
  { name: 'long4', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', vas: [0x400000n, 0x40000000n, 0x8080600000n, 0xffffff0000200000n], pte: 8, nx: true },
  { name: 'long5', regs: { cr0: '0x80010033', cr4: '0x1020', efer: '0xd00' }, format: 'pt64-5', vas: [0x400000n, 0x1000000000000n, 0xff00000000200000n], pte: 8, nx: true },
  { name: 'npt4-on-npt5', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'npt-4', host: { vendor: 'amd', tdp: true, tdp_level: 5 }, vas: [0x400000n, 0x40000000n, 0x8000000000n], pte: 8, nx: true },
  { name: 'long4-thp', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', host: { thp: true }, vas: [0x400000n, 0x40000000n, 0x8080600000n], pte: 8, nx: true },
  { name: 'long4-mmio', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', host: { mmio_caching: true }, vas: [0x400000n, 0x40000000n, 0x8080600000n], pte: 8, nx: true },
  { name: 'long4-thp-nx', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', host: { thp: true, nx_huge_pages: true }, vas: [0x400000n, 0x40000000n, 0x8080600000n], pte: 8, nx: true, extra: 'nx' },
  { name: 'long4-dirty', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', host: { thp: true }, vas: [0x400000n, 0x40000000n, 0x8080600000n], pte: 8, nx: true, extra: 'dirty' },
  { name: 'long4-mmio-slots', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'pt64-4', host: { mmio_caching: true }, vas: [0x400000n, 0x40000000n, 0x8080600000n], pte: 8, nx: true, extra: 'slots' },
  { name: 'npt4', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'npt-4', host: { vendor: 'amd', tdp: true, tdp_level: 4 }, vas: [0x400000n, 0x40000000n], pte: 8, nx: true },
  // Nested EPT (Intel TDP hosts): EPTP = tables | WB | walk length | A/D.
  { name: 'ept4', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'ept-4', host: { vendor: 'intel', tdp: true, tdp_level: 4 }, vas: [0x400000n, 0x40000000n, 0x8000000000n], pte: 8, nx: false, eptp: '0x10005e' },
  { name: 'ept4-noad', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'ept-4', host: { vendor: 'intel', tdp: true, tdp_level: 5, ept_execonly: false }, vas: [0x400000n, 0x40000000n, 0x8000000000n], pte: 8, nx: false, eptp: '0x10001e' },
  { name: 'ept5', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'ept-5', host: { vendor: 'intel', tdp: true, tdp_level: 5 }, vas: [0x400000n, 0x40000000n, 0x1000000000000n], pte: 8, nx: false, eptp: '0x100066' },
  { name: 'ept5-noad', regs: { cr0: '0x80010033', cr4: '0x20', efer: '0xd00' }, format: 'ept-5', host: { vendor: 'intel', tdp: true, tdp_level: 5, ept_ad: false }, vas: [0x400000n, 0x1000000000000n], pte: 8, nx: false, eptp: '0x100026' },
];

/** EPT entry bits: R/W/X (mostly readable: W without R is a misconfiguration), WB now and then a reserved memory type, A/D. */
function eptBits(r: Rng): bigint {
  let v = (r.chance(0.85) ? 1n : 0n) | (r.chance(0.7) ? 2n : 0n) | (r.chance(0.75) ? 4n : 0n);
  if (v === 0n && r.chance(0.8)) v = 1n;
  v |= r.chance(0.95) ? 0x30n : BigInt(r.pick([0, 2, 3, 7])) << 3n;
  if (r.chance(0.6)) v |= 0x100n;
  if (r.chance(0.4)) v |= 0x200n;
  return v;
}

const hex = (v: bigint | number) => '0x' + v.toString(16);
const TABLES = 0x100000;
const DATA = 0x300000;
/** Above the guest's 32 MiB of RAM. */
const MMIO = 0x8000000;

/** One VM scenario (the JSON `shadow-mmu run` and `fuzz --replay` take) of `steps` steps. */
export function genVmScenario(seed: number, steps: number, modes: readonly Mode[] = MODES): Record<string, unknown> {
  const r = new Rng(seed);
  const mode = r.pick(modes);
  const nmap = 2 + r.int(5);
  const vas: bigint[] = [];
  const map: Record<string, unknown>[] = [];
  for (let i = 0; i < nmap; i++) {
    let va = r.pick(mode.vas) + BigInt(r.int(8) * 0x1000 + (r.chance(0.2) ? 0x200000 : 0));
    const m: Record<string, unknown> = { gpa: hex(DATA + i * 0x1000) };
    if (mode.host?.['thp'] && r.chance(0.4)) {
      // A 2 MiB guest page over 2 MiB of RAM, in a 2 MiB region of its own (THP lets the host
      // back it with a huge page).
      va = 0x60000000n + BigInt(i) * 0x200000n;
      m['gpa'] = hex(0x1000000 + i * 0x200000);
      m['page'] = '2m';
    }
    if (vas.includes(va)) continue;
    vas.push(va);
    m['va'] = hex(va);
    if (mode.eptp) {
      let f = eptBits(r);
      if ((f & 7n) === 0n) f |= 1n; // the builder maps present entries only
      m['flags'] = hex(f);
    } else {
      const flags = 1n | (r.chance(0.8) ? 2n : 0n) | (r.chance(0.8) ? 4n : 0n) | (r.chance(0.5) ? 0x20n : 0n) | (r.chance(0.3) ? 0x40n : 0n);
      m['flags'] = hex(mode.nx && r.chance(0.2) ? flags | (1n << 63n) : flags);
    }
    map.push(m);
  }
  const out: Record<string, unknown>[] = [];
  const ntables = 3 + nmap * 2;
  const gpte = (): bigint => {
    // Mostly data pages and tables; now and then a GPA outside every memslot (MMIO).
    const target = r.chance(0.05) ? MMIO + r.int(4) * 0x1000 : r.chance(0.5) ? DATA + r.int(nmap + 2) * 0x1000 : TABLES + r.int(ntables) * 0x1000;
    if (mode.eptp) return BigInt(target) | eptBits(r) | (r.chance(0.05) ? 0x80n : 0n);
    let v = BigInt(target) | (r.chance(0.85) ? 1n : 0n) | (r.chance(0.7) ? 2n : 0n) | (r.chance(0.8) ? 4n : 0n) | (r.chance(0.6) ? 0x20n : 0n) | (r.chance(0.4) ? 0x40n : 0n);
    if (r.chance(0.05)) v |= 0x80n; // PS: a large page where the level allows it, reserved where not
    if (mode.nx && r.chance(0.1)) v |= 1n << 63n;
    if (mode.pte === 4) v &= 0xffffffffn;
    return v;
  };
  const anyVa = () => (r.chance(0.85) && vas.length ? r.pick(vas) : r.pick(mode.vas) + BigInt(r.int(16) * 0x1000)) + BigInt(r.int(512) * 8);
  let slotsAdded = 0;
  for (let i = 0; i < steps; i++) {
    const k = r.int(100);
    if (k < 45) {
      const access = r.pick(['read', 'read', 'write', 'fetch'] as const);
      const s: Record<string, unknown> = { op: 'access', va: hex(anyVa()), access, cpl: r.chance(0.8) ? 3 : 0 };
      if (access === 'write') s['value'] = hex((BigInt(r.next()) << 32n) | BigInt(r.next()));
      out.push(s);
    } else if (k < 55) {
      const size = r.pick([1, 2, 4, 8] as const);
      const value = size === 8 ? (BigInt(r.next()) << 32n) | BigInt(r.next()) : BigInt(r.next()) & ((1n << BigInt(8 * size)) - 1n);
      out.push({ op: 'emulate', va: hex(anyVa()), access: r.pick(['read', 'write'] as const), cpl: r.chance(0.5) ? 3 : 0, value: hex(value), size });
    } else if (k < 75) {
      const gpa = TABLES + r.int(ntables) * 0x1000 + r.int(512 / (8 / mode.pte)) * mode.pte;
      out.push({ op: 'pte_write', gpa: hex(gpa), bytes: mode.pte, value: hex(gpte()) });
    } else if (k < 80) {
      const gpa = TABLES + r.int(ntables) * 0x1000 + r.int(512 / (8 / mode.pte)) * mode.pte;
      out.push({ op: 'host_write', gpa: hex(gpa), value: hex(gpte()), size: mode.pte });
    } else if (k < 90) {
      out.push({ op: 'invlpg', va: hex(anyVa()) });
    } else if (k >= 95 && mode.extra === 'nx') {
      out.push({ op: 'nx_recovery', ratio: r.pick([0, 1, 2, 60]) });
    } else if (k >= 95 && mode.extra === 'dirty') {
      out.push(r.chance(0.5) ? { op: 'get_dirty_log', slot: 0 } : { op: 'dirty_log', slot: 0, enable: r.chance(0.7) });
    } else if (k >= 95 && mode.extra === 'slots' && slotsAdded < 4) {
      // RAM where the gPTEs pointed outside it: the MMIO SPTEs made so far go stale.
      out.push({ op: 'add_memslot', gpa: hex(MMIO + slotsAdded * 0x200000), size: '0x200000' });
      slotsAdded++;
    } else if (mode.eptp) {
      // L1's INVEPT (the only thing that syncs nested EPT), now and then a VM entry with its EPTP.
      out.push(r.chance(0.7) ? { op: 'invept', type: r.chance(0.8) ? 'single' : 'global' } : { op: 'set_cr3', cr3: mode.eptp });
    } else {
      out.push({ op: 'set_cr3', cr3: hex(TABLES) });
    }
  }
  return {
    comment: `shadow-mmu fuzz: seed ${seed}, mode ${mode.name}`,
    ...(mode.host ? { host: mode.host } : {}),
    table_format: mode.format,
    regs: mode.eptp ? { ...mode.regs, eptp: mode.eptp } : mode.regs,
    guest: { map },
    steps: out,
  };
}
