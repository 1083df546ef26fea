/**
 * golden/live: guests recorded on a real KVM with the project's own runner (`kvm run --record`).
 * Needs no KVM: every line of the real tracefs text reads back (the `fields` form), the records
 * made of it equal the ones the live run wrote, `trace stat` counts what a plain grep counts, and
 * the model's replay of each scenario under v6.18 on the recorded host gives the same step
 * records, field by field.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { oracleStep } from '../../src/probe/encode.js';
import { parseProbeScenario } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { readLiveTrace } from '../../src/live/events.js';
import { parseTraceLine } from '../../src/trace/read.js';
import { decodeRole, roleLayout } from '../../src/roles/layout.js';
import { existsSync } from 'node:fs';
import { runCli } from '../support/cli.js';
import { GOLDEN_DIR } from '../support/golden.js';

const DIR = join(GOLDEN_DIR, 'live');
const NAMES = readdirSync(DIR).filter((n) => statSync(join(DIR, n)).isDirectory()).sort();
const HOST = JSON.parse(readFileSync(join(DIR, 'host.json'), 'utf8')) as { host: Record<string, unknown>; hostLa57: boolean; pvm: boolean };
const v618 = getProfile('v6.18');

const read = (n: string, f: string) => readFileSync(join(DIR, n, f), 'utf8');
const jsonl = (n: string) =>
  read(n, 'steps.jsonl')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** trace.txt split at its `# step` lines: vm -> step -> lines. */
function traceSteps(n: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let vm = 0;
  let cur: string[] | null = null;
  for (const l of read(n, 'trace.txt').split('\n')) {
    const v = /^# vm (\d+)/.exec(l);
    if (v) vm = Number(v[1]);
    const s = /^# step (\d+):/.exec(l);
    if (s) out.set(`${vm}:${s[1]}`, (cur = []));
    else if (l.startsWith('# ')) cur = null;
    else if (cur && l !== '') cur.push(l);
  }
  return out;
}

describe('golden/live: real KVM recordings', () => {
  it('has the recordings', () => {
    expect(NAMES.length).toBeGreaterThanOrEqual(10);
  });

  let events = 0;
  it.each(NAMES)('%s: every tracefs line reads as an event of a known form', (n) => {
    for (const [i, l] of read(n, 'trace.txt').split('\n').entries()) {
      if (l === '' || l.startsWith('# ')) continue;
      const t = parseTraceLine(l, i + 1);
      expect(t.kind, `${n} line ${i + 1}: ${l}`).not.toBe('bad');
      if (t.kind === 'event') {
        expect(t.form).toBe('fields');
        events++;
      }
    }
  });
  it('read events from the recordings (long5 has none: this host has no LA57, its VM never started)', () => {
    expect(events).toBeGreaterThan(500);
  });

  it.each(NAMES)('%s: the step records are what the trace text reads back as', (n) => {
    const steps = traceSteps(n);
    for (const rec of jsonl(n)) {
      const lines = steps.get(`${rec['vm']}:${rec['step']}`);
      expect(lines, `${n} step ${rec['step']}`).toBeDefined();
      const t = readLiveTrace(v618, lines!);
      expect(t.problems).toEqual([]);
      const o = oracleStep({ step: 0, op: '', args: {}, line: 0, exits: [], exceptions: t.exceptions, value: null, emulated: t.emulated, events: t.events, walkEvents: t.walkEvents, eventWalkPos: t.eventWalkPos, set_sregs_errno: null, translate: null, gptes_after: null, regs: null, stats: null, violations: [], skipped: false });
      expect({ mmu: o['mmu'], walks: o['walks'], exceptions: o['exceptions'], emulated: o['emulated'] }).toEqual({ mmu: rec['mmu'], walks: rec['walks'], exceptions: rec['exceptions'], emulated: rec['emulated'] });
    }
  });

  it.each(NAMES)('%s: the model replays it exactly (v6.18, the recorded host)', (n) => {
    const vms = runProbeScenario(parseProbeScenario(read(n, 'scenario.kvm')), { profile: v618, pvm: HOST.pvm, audit: true, host: HOST.host, hostLa57: HOST.hostLa57 });
    const got = vms.flatMap((vm, i) => vm.steps.map((s) => ({ vm: i, step: s.step, ...oracleStep(s) })));
    expect(got).toEqual(jsonl(n));
    for (const vm of vms) for (const s of vm.steps) expect(s.violations, `${n} step ${s.step}`).toEqual([]);
  });

  const TEXT = NAMES.filter((n) => existsSync(join(DIR, n, 'trace-text.txt')));
  it.each(TEXT)('%s: the default text form of the same run parses line by line and agrees with the fields form', async (n) => {
    let events = 0;
    for (const [i, l] of read(n, 'trace-text.txt').split('\n').entries()) {
      const t = parseTraceLine(l, i + 1);
      expect(t.kind, `${n} trace-text.txt line ${i + 1}: ${l}`).not.toBe('bad');
      if (t.kind === 'event') {
        expect(t.form).toBe('text');
        events++;
      }
    }
    expect(events).toBeGreaterThan(20);
    const r = await runCli(['trace', 'diff', join(DIR, n, 'trace-text.txt'), join(DIR, n, 'trace.txt')]);
    expect(r.stdout).toMatch(/the traces agree event for event/);
    expect(r.code).toBe(0);
  });

  it('trace decode gives the model decoder\'s fields for every whole role word', async () => {
    let n = 0;
    for (const name of NAMES) {
      const r = await runCli(['trace', 'decode', join(DIR, name, 'trace.txt'), '--format', 'jsonl']);
      expect(r.code, r.stderr).toBe(0);
      for (const l of r.stdout.split('\n').filter(Boolean)) {
        const j = JSON.parse(l) as { fields?: { role?: number }; role?: Record<string, number> };
        if (j.fields?.role === undefined) continue;
        expect(j.role).toEqual(decodeRole(roleLayout(v618), j.fields.role));
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  it('trace stat counts every event as a grep of the text does', async () => {
    for (const n of NAMES) {
      const text = read(n, 'trace.txt');
      const r = await runCli(['trace', 'stat', join(DIR, n, 'trace.txt'), '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const stat = JSON.parse(r.stdout) as { events: Record<string, number> };
      for (const ev of ['kvm_mmu_get_page', 'kvm_mmu_set_spte', 'kvm_mmu_pagetable_walk', 'kvm_mmu_prepare_zap_page', 'kvm_mmu_unsync_page', 'kvm_mmu_sync_page']) {
        const grep = text.split('\n').filter((l) => l.includes(` ${ev}: `)).length;
        expect(stat.events[ev] ?? 0, `${n} ${ev}`).toBe(grep);
      }
    }
  });
});

describe('golden/live-known: a recorded difference the model does not cover yet', () => {
  it('unprotect-retry: only the access step differs, by exactly the unprotect-and-retry KVM does', () => {
    const dir = join(GOLDEN_DIR, 'live-known', 'unprotect-retry');
    const rec = readFileSync(join(dir, 'steps.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const vms = runProbeScenario(parseProbeScenario(readFileSync(join(dir, 'scenario.kvm'), 'utf8')), { profile: v618, pvm: HOST.pvm, audit: true, host: HOST.host, hostLa57: HOST.hostLa57 });
    const got = vms[0]!.steps.map((s) => ({ vm: 0, step: s.step, ...oracleStep(s) }) as Record<string, unknown>);
    expect(got.length).toBe(rec.length);
    const differing = got.map((g, i) => (JSON.stringify(g) === JSON.stringify(rec[i]) ? -1 : i)).filter((i) => i >= 0);
    expect(differing).toEqual([2]);
    // Same outcome; KVM's extra events: the write walk of CR2, the root zapped and made again.
    expect([got[2]!['exit'], got[2]!['exceptions']]).toEqual([rec[2]!['exit'], rec[2]!['exceptions']]);
    const ev = (o: Record<string, unknown>) => (o['mmu'] as { ev: string; gfn: string }[]).map((e) => `${e.ev} ${e.gfn}`);
    expect(ev(rec[2]!)).toEqual([...ev(got[2]!), 'prepare_zap_page 0x100', 'prepare_zap_page 0x100', 'get_page 0x100']);
    expect((rec[2]!['walks'] as { addr: string; pferr: number }[]).map((w) => `${w.addr} ${w.pferr}`)).toContain('0x50000b00 6');
  });
});
