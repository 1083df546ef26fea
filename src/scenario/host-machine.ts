/**
 * `--host cpuinfo[:ROOT]` (`--cpuinfo`): the host as a machine describes itself, read from
 * ROOT/proc/cpuinfo (vendor, physical address width, la57, the l1tf bug) and the KVM module
 * parameters under ROOT/sys/module (kvm: mmio_caching, eager_zap_unsync_children, nx_huge_pages;
 * kvm_intel ept / kvm_amd npt; kvm_pvm loaded), plus transparent huge pages
 * (ROOT/sys/kernel/mm/transparent_hugepage/enabled). ROOT defaults to / (this machine); a saved
 * copy of another machine's files works the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShadowMmuError } from '../bits/errors.js';
import { quote } from '../bits/quote.js';
import { HOSTS } from '../mmu/index.js';
import type { HostConfig } from '../mmu/index.js';

export interface MachineHost {
  readonly host: Partial<HostConfig>;
  readonly la57: boolean;
  /** kvm_pvm is loaded: the PVM host's limits (`--pvm`). */
  readonly pvm: boolean;
  /** What was read, one `key=value (from)` line each, for the run's header. */
  readonly facts: readonly string[];
}

function fail(root: string, what: string): never {
  throw new ShadowMmuError('EINVAL_INPUT', `--host cpuinfo:${root}: ${what}`);
}

function readParam(root: string, mod: string, name: string): string | null {
  const p = join(root, 'sys/module', mod, 'parameters', name);
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : null;
}

function yn(v: string, root: string, where: string): boolean {
  if (v === 'Y' || v === '1') return true;
  if (v === 'N' || v === '0') return false;
  return fail(root, `${where} is ${quote(v)}, expected Y or N`);
}

/** The first processor's `key : value` lines of /proc/cpuinfo. */
function cpuinfoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (out.size) break;
      continue;
    }
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

export function hostFromMachine(root = '/'): MachineHost {
  const cpuinfoPath = join(root, 'proc/cpuinfo');
  let text: string;
  try {
    text = readFileSync(cpuinfoPath, 'utf8');
  } catch (e) {
    return fail(root, `cannot read ${cpuinfoPath} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const f = cpuinfoFields(text);
  const vendorId = f.get('vendor_id');
  const vendor = vendorId === 'GenuineIntel' ? 'intel' : vendorId === 'AuthenticAMD' || vendorId === 'HygonGenuine' ? 'amd' : null;
  if (vendor === null) return fail(root, `vendor_id ${quote(vendorId ?? '(none)')} is neither GenuineIntel nor AuthenticAMD`);
  const flags = new Set((f.get('flags') ?? '').split(/\s+/));
  const bugs = new Set((f.get('bugs') ?? '').split(/\s+/));
  const m = /(\d+) bits physical/.exec(f.get('address sizes') ?? '');
  if (!m) return fail(root, 'no "address sizes: N bits physical" line');
  const maxphyaddr = Number(m[1]);
  const l1tf = bugs.has('l1tf');
  // The SPTE host model: same vendor, MAXPHYADDR and L1TF, no memory encryption (an SME host's
  // C-bit position is not in /proc/cpuinfo).
  const cpu = Object.keys(HOSTS).find((n) => n.startsWith(vendor) && HOSTS[n]!.maxphyaddr === maxphyaddr && HOSTS[n]!.l1tf === l1tf && HOSTS[n]!.sme_c_bit === 0 && HOSTS[n]!.x86_phys_bits === maxphyaddr);
  if (cpu === undefined) return fail(root, `no SPTE host model for ${vendor} with MAXPHYADDR ${maxphyaddr}${l1tf ? ' and L1TF' : ''} (known: ${Object.keys(HOSTS).join(', ')})`);
  if (!existsSync(join(root, 'sys/module/kvm'))) return fail(root, 'the kvm module is not loaded (no sys/module/kvm)');
  const pvm = existsSync(join(root, 'sys/module/kvm_pvm'));
  const tdpParam = vendor === 'intel' ? readParam(root, 'kvm_intel', 'ept') : readParam(root, 'kvm_amd', 'npt');
  if (!pvm && tdpParam !== null && yn(tdpParam, root, vendor === 'intel' ? 'kvm_intel.ept' : 'kvm_amd.npt')) {
    return fail(root, `KVM runs with ${vendor === 'intel' ? 'EPT (kvm_intel.ept=Y)' : 'NPT (kvm_amd.npt=Y)'}: a guest's faults never reach the shadow MMU there; guest runs model shadow paging`);
  }
  const facts: string[] = [`cpu=${cpu} (vendor_id ${vendorId}, ${maxphyaddr} bits physical${l1tf ? ', l1tf' : ''})`, `la57=${flags.has('la57')} (cpuinfo flags)`];
  const host: { -readonly [K in keyof HostConfig]?: HostConfig[K] } = { vendor, cpu };
  const mmio = readParam(root, 'kvm', 'mmio_caching');
  if (mmio !== null) {
    host.mmio_caching = yn(mmio, root, 'kvm.mmio_caching');
    facts.push(`mmio_caching=${host.mmio_caching} (kvm.mmio_caching)`);
  }
  const eager = readParam(root, 'kvm', 'eager_zap_unsync_children');
  if (eager !== null) {
    host.eager_zap_unsync_children = yn(eager, root, 'kvm.eager_zap_unsync_children');
    facts.push(`eager_zap_unsync_children=${host.eager_zap_unsync_children} (kvm.eager_zap_unsync_children)`);
  }
  const thpPath = join(root, 'sys/kernel/mm/transparent_hugepage/enabled');
  const thp = existsSync(thpPath) && /\[always\]/.test(readFileSync(thpPath, 'utf8'));
  host.thp = thp;
  facts.push(`thp=${thp} (transparent_hugepage/enabled${thp ? ' [always]' : ': not [always]; the probe does not madvise'})`);
  const nx = readParam(root, 'kvm', 'nx_huge_pages');
  if (nx !== null) {
    host.nx_huge_pages = /^(Y|1|force)$/.test(nx);
    facts.push(`nx_huge_pages=${host.nx_huge_pages} (kvm.nx_huge_pages=${nx})`);
  }
  if (pvm) facts.push('pvm=true (kvm_pvm loaded)');
  return { host, la57: flags.has('la57'), pvm, facts };
}
