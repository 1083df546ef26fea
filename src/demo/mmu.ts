/**
 * Demo section: a PAE guest's root under v5.16 (mainline's special DMA32 pae_root page) and under
 * rfc-v1 (a DMA32 shadow page with role.pae_root holding default_pae_pdpte, then a link with
 * make_pae_pdpte and a drop back to the default), each with the CPU's verdict on the PDPTEs it
 * would load; then why make_pae_pdpte is needed and default_pae_pdpte is not.
 */
import { getProfile } from '../profiles/index.js';
import { checkPaeRoot, formatVerdict } from '../mmu/index.js';
import { make_nonleaf_spte, spte64 } from '../mmu/index.js';
import { spteMasksFor } from '../mmu/index.js';
import { parseScenario, renderText, runScenario, verdictJson, type RunResult } from '../scenario/index.js';
import type { DemoSection } from './section.js';

const PAE_GUEST = {
  cr3: '0x1000',
  pdptrs: ['0x2001', '0x3001', '0x0', '0x0'],
};

/** The demo's two profiles: mainline's special PAE root, and the RFC's pae_root shadow page. */
const DEMO_PROFILES = ['v5.16', 'rfc-v1'] as const;
type DemoProfile = (typeof DEMO_PROFILES)[number];

function scenario(profile: DemoProfile): unknown {
  // Without the RFC the PAE root is the special page: only load and check it.
  const special = !getProfile(profile).mmu.pae_root_shadow_page;
  return {
    profile,
    tdp: false,
    host: { vendor: 'intel', cpu: 'intel-46' },
    vcpu: {
      ...PAE_GUEST,
      mmu: {
        kind: 'shadow',
        role: special ? { level: 3, gpte_is_8_bytes: 1, access: 7, cr0_wp: 1 } : { level: 3, access: 7, cr0_wp: 1, pae_root: 1 },
        root_level: 3,
        shadow_root_level: 3,
      },
    },
    steps: special
      ? [{ op: 'load' }, { op: 'check_cr3' }, { op: 'destroy' }]
      : [
          { op: 'load' },
          { op: 'get_page', name: 'pd', gfn: '0x3', level: 2, gaddr: '0x40000000' },
          { op: 'link', parent: 'root', index: 1, child: 'pd' },
          { op: 'check_cr3' },
          { op: 'drop', parent: 'root', index: 1 },
          { op: 'check_cr3' },
          { op: 'destroy' },
        ],
  };
}

function run(profile: DemoProfile): { text: string; result: RunResult } {
  const sc = parseScenario(scenario(profile), `demo ${profile}`);
  const result = runScenario(sc);
  return { text: renderText(sc.profile, result), result };
}

export const mmuDemo: DemoSection = {
  id: 'mmu',
  title: 'Shadow pages: a PAE guest root under v5.16 and under the pae_root RFC',
  run() {
    const [a, b] = DEMO_PROFILES.map(run) as [ReturnType<typeof run>, ReturnType<typeof run>];
    // What the CPU would say about PDPTEs built other ways (host intel-46: MAXPHYADDR 46).
    const p = getProfile('rfc-v1');
    const m = spteMasksFor(p, { name: 'intel-46', mode: 'vmx', maxphyaddr: 46, x86_phys_bits: 46, x86_cache_bits: 46, l1tf: false, sme_c_bit: 0, mmio_caching: true, tdp: false });
    const child = 0x100028000;
    const nonleaf = spte64((out, off) => make_nonleaf_spte(m, child, false, out, off));
    const asNonleaf = checkPaeRoot('intel', 46, 0x1000000, [nonleaf, 0n, 0n, 0n]);
    const asNonleafAmd = checkPaeRoot('amd', 46, 0x1000000, [nonleaf, 0n, 0n, 0n]);
    const allZero = checkPaeRoot('intel', 46, 0x1000000, [0n, 0n, 0n, 0n]);
    const text = [
      '-- v5.16: mainline special root (pae_root page, DMA32, not a shadow page) --',
      a.text.trimEnd(),
      '',
      '-- rfc-v1: the root is a shadow page (role.pae_root) from the DMA32 PAE-root cache --',
      b.text.trimEnd(),
      '',
      '-- the architectural check on other PDPTE shapes --',
      `PDPTE built like a non-leaf SPTE (P|W|U|A|bit 11): ${formatVerdict(asNonleaf)}`,
      `  the same on AMD (PDPTEs checked on use under SVM): ${formatVerdict(asNonleafAmd)}`,
      `all four PDPTEs not present (0): ${formatVerdict(allZero)}`,
      'So make_pae_pdpte (P|bit 11|address|me) is required, and default_pae_pdpte is not: 0 is legal.',
    ].join('\n');
    return {
      text,
      json: {
        v516: a.result.steps.map((s) => ({ op: s.op, result: s.result })),
        rfc_v1: b.result.steps.map((s) => ({ op: s.op, result: s.result })),
        pdpte_like_nonleaf_spte: { intel: verdictJson(asNonleaf), amd: verdictJson(asNonleafAmd) },
        pdptes_not_present: verdictJson(allZero),
        audit: { v516: a.result.violations.length ? 'fail' : 'ok', rfc_v1: b.result.violations.length ? 'fail' : 'ok' },
      },
    };
  },
};
