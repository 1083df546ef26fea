/** Demo section: LA57, LAM and TDP-level facts per profile (cpu-features.md; seeds 000, 002, 003, 004). */
import { hex64 } from '../bits/hex.js';
import { is_noncanonical_address, X86EMUL_F_INVLPG } from '../cpu/canonical.js';
import { EFER_LMA, X86_CR3_LAM_U57, X86_CR4_LAM_SUP } from '../cpu/cr.js';
import { hostFacts, namedHost } from '../cpu/host.js';
import { untagThenCheck } from '../cpu/lam.js';
import { kvm_set_msr_canonical, MSR_FS_BASE } from '../cpu/msr.js';
import { tdpCheck } from '../cpu/tdp.js';
import { getProfile } from '../profiles/index.js';
import type { DemoSection } from './section.js';

const PROFILES = ['v5.16', 'v6.18', 'v6.18+unmappable-gpa-exit-memory-fault'];
const HOSTS = ['ept4-52', 'ept5', 'npt5-no5lvl'];

export const cpuDemo: DemoSection = {
  id: 'cpu',
  title: 'CPU features: LA57, LAM and the TDP level per profile',
  run() {
    const lines: string[] = [];
    const json: Record<string, unknown>[] = [];
    const bar = 0x000f_0000_0000_0000n;
    const c = 0x0000_8000_0000_0000n; // 57-canonical only
    const tagged = 0x7eab_1234_5678_9000n;
    for (const pn of PROFILES) {
      const p = getProfile(pn);
      lines.push(`${pn}:`);
      for (const hn of HOSTS) {
        const host = namedHost(hn)!;
        const f = hostFacts(p, host);
        const t52 = tdpCheck(p, { host: f.tdp_host, host_maxphyaddr: f.host_maxphyaddr, guest_maxphyaddr: 52, memslots: [{ base: bar, size: 0x1000_0000n }] });
        const t46 = tdpCheck(p, { host: f.tdp_host, host_maxphyaddr: f.host_maxphyaddr, guest_maxphyaddr: 46, memslots: [] });
        const access = t52.on_access;
        const what = access === null || access.kind === 'mapped' ? 'BAR in GPA[51:48] mapped' : access.kind === 'loop' ? 'BAR in GPA[51:48]: guest loops on the same fault' : `BAR in GPA[51:48]: ${access.exit_name}`;
        lines.push(
          `  ${hn.padEnd(12)} boot 5-level ${f.boot.l5_required ? 'yes' : 'no '}  KVM LA57 ${f.caps.la57 ? 'yes' : 'no '} LAM ${f.caps.lam ? 'yes' : 'no '}  TDP level ${t46.tdp_level}/${t52.tdp_level} (MAXPHYADDR 46/52)  GuestPhysBits ${t52.reported_guest_phys_bits}  ${what}`,
        );
        json.push({ profile: pn, host: hn, l5: f.boot.l5_required, kvm_la57: f.caps.la57, kvm_lam: f.caps.lam, tdp_level_46: t46.tdp_level, tdp_level_52: t52.tdp_level, guest_phys_bits: t52.reported_guest_phys_bits, bar_access: access?.kind ?? null });
      }
      const ctx = { cr4: 0x20n, kvm_la57: true };
      const wrmsr = kvm_set_msr_canonical(p, MSR_FS_BASE, c, ctx).rc ? '#GP' : 'accepted';
      const invlpg = is_noncanonical_address(p, c, ctx, X86EMUL_F_INVLPG) ? 'NOP' : 'flush';
      lines.push(`  LA57 host, guest CR4.LA57=0: WRMSR FS_BASE ${hex64(c)} ${wrmsr}; INVLPG ${invlpg} (hazard from the 5-level EPT RFC thread (2017) when accepted)`);
      const lam = { cr3: 0x12345000n | X86_CR3_LAM_U57, cr4: 0x20n | X86_CR4_LAM_SUP, efer: EFER_LMA | (1n << 8n), cs_l: true, guest_lam: true };
      const loads = [0x7e00_1234_5678_9000n, tagged].map((a) => ({ a, ...untagThenCheck(p, a, lam, 0) }));
      lines.push(`  CR3.LAM_U57, 4-level paging (LAM KVM enabling v7, kvm@vger.kernel.org 2023-04: bits 56..47 must be 0): ${loads.map((l) => `load ${hex64(l.a)} -> ${hex64(l.untagged)} ${l.canonical ? 'ok' : '#GP'}`).join('; ')}`);
      json.push({ profile: pn, wrmsr_57_only: wrmsr, invlpg_57_only: invlpg, lam_loads: loads.map((l) => ({ address: hex64(l.a), untagged: hex64(l.untagged), ok: l.canonical })) });
    }
    return { text: lines.join('\n'), json };
  },
};
