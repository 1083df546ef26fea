/**
 * Demo: a guest setting up its own page tables (kvm-probe language, run by src/probe on the
 * shadow MMU), events side by side under two profiles: a 32-bit guest with CR4.PSE under the
 * RFC (rfc-v1, whose PAE-root rule tests CR4.PSE) and the corrected rule (rfc-v1-pae), and a
 * 4-level guest under v5.16 and v6.18.
 */
import { getProfile } from '../profiles/index.js';
import { decodeRole, roleLayout } from '../roles/layout.js';
import type { TraceEvent } from '../trace/events.js';
import { mmuEvents, runGuestScenario, stepSummary, type GuestRun } from '../scenario/guest.js';
import { formatEventText } from '../trace/print.js';
import type { DemoSection } from './section.js';

/** A 32-bit PSE guest: writes its page directory and table with paging off, turns paging on, runs at CPL 3. */
export const PSE32_SETUP = `vm name=pse32-setup mode=legacy start=prot cpl=0
write 0x100008 val=0x101007
write 0x101010 val=0x300007
write 0x10000c val=0x400087
movcr3 0x100000
movcr4 0x10
movcr0 0x80010033
sregs cpl=3
read 0x00804000
read 0x00c00010
write 0x00804000 val=0x42
`;

/**
 * A 4-level guest that enables long mode itself: it adds a page table under the page directory
 * that maps its code (identity, PD at 0x1fc5000) and one page at 0x604000.
 */
export const LONG_SETUP = `vm name=long-setup mode=long start=prot cpl=0
write 0x101020 val=0x300007
write 0x1fc5018 val=0x101007
movcr4 0x20
movcr3 0x100000
wrmsr 0xc0000080 0x900
movcr0 0x80010033
sregs cpl=3
read 0x604000 size=4
write 0x604000 val=0x42 size=4
`;

const WIDTH = 104;

/** The kernel's text, plus the role word the text does not spell out (RFC bits, cr0_wp...). */
function line(profile: string, e: TraceEvent): string {
  const t = formatEventText(getProfile(profile), e);
  return 'role' in e ? `${t} [${'0x' + (e.role >>> 0).toString(16).padStart(8, '0')}]` : t;
}

function column(r: GuestRun, profile: string): string[][] {
  return r.vms.flatMap((vm) => vm.steps.map((s) => mmuEvents(s).map((e) => line(profile, e))));
}

/** Role words that differ between the two runs, event by event, decoded. */
function roleDiffs(ra: GuestRun, rb: GuestRun, a: string, b: string): string[] {
  const la = roleLayout(getProfile(a));
  const lb = roleLayout(getProfile(b));
  const ea = ra.vms.flatMap((v) => v.steps.flatMap((s) => mmuEvents(s).map((e) => ({ s: s.step, e }))));
  const eb = rb.vms.flatMap((v) => v.steps.flatMap((s) => mmuEvents(s).map((e) => e)));
  const out: string[] = [];
  ea.forEach(({ s, e }, i) => {
    const f = eb[i];
    if (!f || !('role' in e) || !('role' in f) || e.role === f.role) return;
    const da = decodeRole(la, e.role);
    const db = decodeRole(lb, f.role);
    // Fields only one layout has (5.x gpte_is_8_bytes vs 6.x has_4_byte_gpte...) are left out.
    const names = Object.keys(da).filter((k) => k in da && k in db && da[k] !== db[k]);
    if (names.length === 0) return;
    out.push(`  step ${s} ${e.event} gfn ${e.gfn.toString(16)}: ${names.map((k) => `${k} ${da[k]} (${a}) vs ${db[k]} (${b})`).join(', ')}`);
  });
  return out;
}

/** The steps of one scenario under two profiles, each step's kvmmmu lines side by side. */
export function sideBySide(text: string, a: string, b: string): { lines: string[]; json: unknown } {
  const ra = runGuestScenario(text, { profile: getProfile(a) });
  const rb = runGuestScenario(text, { profile: getProfile(b) });
  const ca = column(ra, a);
  const cb = column(rb, b);
  const steps = ra.vms.flatMap((v) => v.steps);
  const lines = [`${a.padEnd(WIDTH)}| ${b}`];
  steps.forEach((s, i) => {
    lines.push(stepSummary(s));
    const l = ca[i] ?? [];
    const r = cb[i] ?? [];
    for (let k = 0; k < Math.max(l.length, r.length); k++) {
      const x = l[k] ?? '';
      lines.push(`  ${(x.length > WIDTH - 3 ? x.slice(0, WIDTH - 4) + '~' : x).padEnd(WIDTH - 2)}| ${r[k] ?? ''}`);
    }
  });
  const diffs = roleDiffs(ra, rb, a, b);
  lines.push(diffs.length ? 'role words that differ:' : 'no role word differs', ...diffs);
  const audit = [...ra.violations, ...rb.violations];
  lines.push(audit.length ? `# audit: ${audit.length} violation(s)` : '# audit: ok after every step under both profiles');
  return { lines, json: { [a]: ca, [b]: cb, role_diffs: diffs, violations: audit } };
}

export const guestSetupDemo: DemoSection = {
  id: 'guest-setup',
  title: 'a guest setting up its page tables, events side by side under two profiles',
  run() {
    const pse = sideBySide(PSE32_SETUP, 'rfc-v1', 'rfc-v1-pae');
    const long = sideBySide(LONG_SETUP, 'v5.16', 'v6.18');
    const text = [
      '32-bit guest with CR4.PSE=1: the RFC marks the PAE root level_promoted only when !CR4.PSE, so this',
      "guest's root (gfn 100, l3) is not promoted under rfc-v1; the fix (rfc-v1-pae) tests CR4.PAE and promotes it:",
      ...pse.lines,
      '',
      '4-level guest enabling long mode itself:',
      ...long.lines,
    ].join('\n');
    return { text, json: { pse32: pse.json, long: long.json } };
  },
};
