/**
 * Demo section: the root roles of the common guest paging modes, for shadow paging and for TDP
 * (EPT, 4-level), under every shipped profile side by side; then what the RFC's CR4.PSE test
 * changes compared with CR4.PAE.
 */
import { hex32 } from '../bits/hex.js';
import { diffRoles } from '../eval/roles-diff.js';
import { getProfile, PROFILE_NAMES } from '../profiles/index.js';
import { calcRootRole, GUEST_MODES, hostByName, roleLayout, type MmuKind } from '../roles/index.js';
import { formatRole } from '../trace/print.js';
import type { DemoSection } from './section.js';

/** Role bits the tracepoint text does not show but that tell profiles apart. */
const EXTRA_BITS = ['cr0_wp', 'level_promoted', 'pae_root', 'passthrough', 'is_mirror'];

function rootTable(mmu: MmuKind, title: string): { text: string[]; json: unknown[] } {
  const text = [title];
  const json: unknown[] = [];
  const host = hostByName('ept4');
  for (const mode of GUEST_MODES) {
    const vcpu = { ...mode.regs, smm: false, guest_mode: false, host };
    const first = calcRootRole(getProfile(PROFILE_NAMES[0]!), mmu, vcpu);
    text.push(
      `  ${mode.title}  (cr0=${hex32(mode.regs.cr0)} cr4=${hex32(mode.regs.cr4)} efer=${hex32(mode.regs.efer)}): ` +
        `guest ${first.root_level} levels, root level ${first.shadow_root_level}`,
    );
    for (const name of PROFILE_NAMES) {
      const p = getProfile(name);
      const r = calcRootRole(p, mmu, vcpu);
      const l = roleLayout(p);
      const extra = EXTRA_BITS.filter((b) => l.byName.has(b) && ((r.word & l.byName.get(b)!.mask) >>> 0) !== 0);
      text.push(`    ${name.padEnd(10)} ${hex32(r.word)}  ${formatRole(p, r.word).padEnd(33)} ${extra.join(' ')}`.trimEnd());
      json.push({ mmu, mode: mode.name, profile: name, word: hex32(r.word), trace: formatRole(p, r.word), extra });
    }
  }
  return { text, json };
}

export const rolesDemo: DemoSection = {
  id: 'roles',
  title: 'Root page roles per guest mode and profile',
  run() {
    const shadow = rootTable('shadow', 'Shadow paging (TDP off): root role = what KVM hashes the root page under');
    const tdp = rootTable('tdp', 'TDP on an ept4 host (4-level EPT with A/D bits)');
    const d = diffRoles(getProfile('rfc-v1'), getProfile('rfc-v1-pae'), 'shadow_root_role');
    const text = [
      ...shadow.text,
      '',
      ...tdp.text,
      '',
      'Read: bit 4 prints as 4-byte/8-byte in every profile, but v5.16 stores gpte_is_8_bytes (1 for',
      'TDP and PAE/64-bit tables) where later kernels store has_4_byte_gpte; v6.18 forces nxe on',
      'shadow and TDP roots and sets cr0_wp on TDP roots; the RFC marks PAE-shaped roots pae_root.',
      "v5.16's paging-off shadow root prints 4-byte: it stores gpte_is_8_bytes = PG && PAE = 0, while",
      'kvm_mmu_get_page forces the bit to 1 on the direct pages built under it.',
      '',
      `The RFC as posted (rfc-v1) tests CR4.PSE where the levels need CR4.PAE (rfc-v1-pae): over all`,
      `${d.inputs} valid shadow-root inputs, ${d.differing} get a different level_promoted:`,
      ...d.groups.map((g) => `  ${String(g.count).padStart(4)}  when ${g.when.join(' ')}: level_promoted ${g.changes.map((c) => `${c.a} -> ${c.b}`).join(', ')}`),
      'A non-PAE guest has 2 levels and its PAE-shaped shadow 3, so its root is promoted whatever',
      'CR4.PSE says; a PAE guest has 3 levels, so its root is not. kvm_mmu_get_page clears the bit',
      'again for every page at or below the guest level, so only the root role itself carries the',
      'wrong value for PAE guests, while non-PAE guests with PSE=1 lose the promotion entirely.',
    ];
    return { text: text.join('\n'), json: { shadow: shadow.json, tdp: tdp.json, rfc_diff: d } };
  },
};
