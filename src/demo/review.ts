/**
 * Demo: the review workbench on the RFC's CR4.PSE slip. The same guests `shadow-mmu diff` takes,
 * run under rfc-v1 (the RFC as posted) and rfc-v1-pae (its promotion test corrected), with every
 * difference in events, outcomes, state and final forest; the HTML report is written to a file.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProfile } from '../profiles/index.js';
import { diffScenario, diffJson, renderHtml, renderText } from '../diff/index.js';
import type { DemoSection } from './section.js';

/** A 32-bit guest with CR4.PSE=1 rewriting a PDE from CPL 0 (the same guest as examples/rfc-pse-slip.kvm). */
export const PSE_SLIP = `vm name=pse32 mode=legacy cpl=3 wp=1 pse=1
map 0x00400000 0x300000
map 0x40000000 0x301000
map 0x00800000 0x100000
poke 0x300000 0x1111
poke 0x301000 0x2222
read 0x00400000
read 0x40000000
sregs cpl=0
write 0x00800004 val=0x101027 size=4
sregs cpl=3
read 0x40000000
sregs cpl=0
write 0x00800004 val=0x101027 size=4
write 0x00800004 val=0x101027 size=4
write 0x00800004 val=0x101027 size=4
sregs cpl=3
read 0x40000000
`;

/** A PAE guest doing the same kind of PDE rewrite: its root is 3 levels in guest and shadow alike. */
export const PAE_REWRITE = `vm name=pae mode=pae cpl=3 wp=1 nx=1
map 0x40604000 0x300000
map 0x40800000 0x102000
poke 0x300000 0x1111
read 0x40604000
sregs cpl=0
write 0x40800028 val=0x301007 size=4
write 0x40800028 val=0x301007 size=4
write 0x40800028 val=0x301007 size=4
sregs cpl=3
read 0x40604000
`;

export const DEFAULT_REPORT = join(tmpdir(), 'shadow-mmu-rfc-pse-slip.html');

export const reviewDemo: DemoSection = {
  id: 'review',
  title: 'reviewing the RFC: one guest under rfc-v1 and rfc-v1-pae, and exactly what differs',
  run(ctx) {
    const profiles = [getProfile('rfc-v1'), getProfile('rfc-v1-pae')];
    const pse = diffScenario(PSE_SLIP, 'pse-slip.kvm', profiles);
    const pae = diffScenario(PAE_REWRITE, 'pae-rewrite.kvm', profiles);
    const report = ctx?.report ?? DEFAULT_REPORT;
    let written: string;
    try {
      writeFileSync(report, renderHtml('pse-slip.kvm', pse.runs, pse.pairs));
      written = `HTML report: ${report}`;
    } catch (e) {
      written = `HTML report not written: ${report}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
    const text = [
      'shadow-mmu diff pse-slip.kvm --profile rfc-v1 --profile rfc-v1-pae',
      '(a 32-bit guest with CR4.PSE=1; as posted, the RFC promotes the shadow root only when !CR4.PSE, so',
      "the root is not level_promoted, kvm_mmu_pte_write treats it as the guest's page directory, and the",
      'PDE rewrites zap it and flood it away; corrected to CR4.PAE, the root is promoted and skipped)',
      '',
      renderText(pse.pairs, { color: false, context: 1, scenario: 'pse-slip.kvm' }).trimEnd(),
      '',
      'shadow-mmu diff pae-rewrite.kvm --profile rfc-v1 --profile rfc-v1-pae',
      '(a PAE guest: 3 guest levels, 3 shadow levels, nothing to promote under either test)',
      '',
      renderText(pae.pairs, { color: false, context: 1, scenario: 'pae-rewrite.kvm' }).trimEnd(),
      '',
      written,
    ].join('\n');
    return { text, json: { pse: diffJson('pse-slip.kvm', pse.pairs), pae: diffJson('pae-rewrite.kvm', pae.pairs), report } };
  },
};
