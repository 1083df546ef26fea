import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { decodeRole, roleLayout } from '../../src/roles/layout.js';
import { mmuEvents, runGuestScenario } from '../../src/scenario/guest.js';
import { formatEventText } from '../../src/trace/print.js';
import { eventRawFields, formatFieldsForm, walkRawFields } from '../../src/trace/fields-form.js';
import { parseTraceLine, type TraceLine } from '../../src/trace/read.js';
import { roleFieldsOf } from '../../src/trace/decode.js';
import { TRACE_EVENTS } from '../../src/trace/table.js';
import { GOLDEN_DIR } from '../support/golden.js';
import { runCli } from '../support/cli.js';

const GUESTS = join(__dirname, '../scenario/guest');

/** A model run as the four text forms: bare, tracefs (with flags), trace-cmd report, and tracefs with the fields option. */
function forms(file: string, profile: string) {
  const p = getProfile(profile);
  const r = runGuestScenario(readFileSync(join(GUESTS, file), 'utf8'), { profile: p });
  const bare: string[] = [];
  const raw: string[] = [];
  const roles: number[] = [];
  for (const vm of r.vms) {
    for (const s of vm.steps) {
      // The shadow MMU's and the walker's events in kernel order (as shadow-mmu run prints them).
      const evs = s.events;
      let w = 0;
      const walk = (upTo: number) => {
        for (; w < upTo && w < s.walkEvents.length; w++) {
          const we = s.walkEvents[w]!;
          bare.push(`${we.event}: ${we.text}`);
          raw.push(formatFieldsForm(we.event, walkRawFields(we)));
        }
      };
      evs.forEach((e, i) => {
        walk(s.eventWalkPos[i] ?? 0);
        if (!mmuEvents({ ...s, events: [e] }).length) return;
        bare.push(formatEventText(p, e));
        raw.push(formatFieldsForm(e.event, eventRawFields(e)));
        if ('role' in e) roles.push(e.role >>> 0);
      });
      walk(Infinity);
    }
  }
  const pre = (i: number, flags: boolean) => ` qemu-system-x86-4242  [00${i % 2}] ${flags ? 'd..1. ' : ''} ${(100 + i / 1000).toFixed(6)}: `;
  return {
    profile: p,
    bare,
    roles,
    tracefs: bare.map((l, i) => pre(i, true) + l),
    tracecmd: bare.map((l, i) => pre(i, false) + l.replace(': ', ':     ')),
    fields: raw.map((l, i) => pre(i, true) + l),
  };
}

const events = (lines: string[]) => lines.map((l, i) => parseTraceLine(l, i + 1));
type Ev = Extract<TraceLine, { kind: 'event' }>;

describe('the tracepoint table', () => {
  it("lists exactly the kernel's kvmmmu events, each with the kernel's fields in order", () => {
    const dir = join(GOLDEN_DIR, 'tracefs/formats');
    const names = readdirSync(dir).map((f) => f.replace(/\.format$/, '')).sort();
    expect([...TRACE_EVENTS.keys()].sort()).toEqual(names);
    for (const n of names) {
      const text = readFileSync(join(dir, `${n}.format`), 'utf8');
      const fields = [...text.matchAll(/field:(.*?);\s*offset:\d+;\s*size:(\d+);\s*signed:(\d);/g)]
        .map((m) => ({ name: m[1]!.trim().split(/[\s*]+/).at(-1)!.replace(/\[.*$/, ''), size: Number(m[2]), signed: m[3] === '1' }))
        .filter((f) => !f.name.startsWith('common_'));
      expect(TRACE_EVENTS.get(n)!.fields, n).toEqual(fields);
    }
  });
});

describe('reading traces', () => {
  it('a real tracefs file (fields option on): header skipped, every line a well-formed event', () => {
    const lines = readFileSync(join(GOLDEN_DIR, 'tracefs/real-6.18-other-events.trace'), 'utf8').split('\n');
    const parsed = events(lines);
    expect(parsed.filter((l) => l.kind === 'bad')).toEqual([]);
    const other = parsed.filter((l) => l.kind === 'other');
    expect(other.length).toBeGreaterThan(10);
    expect(other[0]).toMatchObject({ event: 'kmem_cache_alloc', prefix: { task: 'bash', cpu: 0, flags: '.....' } });
    expect(parsed.filter((l) => l.kind === 'skip').length).toBe(lines.filter((l) => l.startsWith('#') || l === '').length);
  });

  for (const [file, profile] of [['long4.kvm', 'v6.18'], ['legacy32.kvm', 'rfc-v1'], ['pae.kvm', 'v5.16'], ['long5.kvm', 'v6.18']] as const) {
    it(`${file} under ${profile}: all four forms parse to the same events`, () => {
      const f = forms(file, profile);
      expect(f.bare.length).toBeGreaterThan(10);
      const sets = [f.bare, f.tracefs, f.tracecmd, f.fields].map(events);
      for (const s of sets) expect(s.filter((l) => l.kind !== 'event')).toEqual([]);
      const [bare, tracefs, tracecmd, raw] = sets as Ev[][];
      expect(tracefs.map((e) => [e.event, e.fields])).toEqual(bare!.map((e) => [e.event, e.fields]));
      expect(tracecmd.map((e) => [e.event, e.fields])).toEqual(bare!.map((e) => [e.event, e.fields]));
      expect(tracefs[3]!.prefix).toMatchObject({ task: 'qemu-system-x86', pid: 4242, cpu: 1, flags: 'd..1.' });
      expect(tracecmd[3]!.prefix!.flags).toBeNull();
      // The fields form carries the whole role word: decoding it equals the model's own decoder.
      const layout = roleLayout(f.profile);
      const pageRaw = raw!.filter((e) => 'role' in e.fields);
      expect(pageRaw.map((e) => roleFieldsOf(f.profile, e))).toEqual(f.roles.map((w) => decodeRole(layout, w)));
      // The text form's printed fields agree with the decoded word on every field it prints.
      const pageText = bare!.filter((e) => 'role_text.level' in e.fields);
      pageText.forEach((e, i) => {
        const printed = roleFieldsOf(f.profile, e)!;
        const whole = decodeRole(layout, f.roles[i]!);
        for (const [k, v] of Object.entries(printed)) expect(whole[k], `${k} of event ${i}`).toBe(v);
      });
      // Non-page events: the same fields from both forms (the text form spells out all but host ones).
      raw!.forEach((e, i) => {
        if ('role' in e.fields) return;
        const t = bare![i]!.fields;
        for (const k of Object.keys(t)) if (k !== 'w') expect(e.fields[k], `${e.event}.${k}`).toEqual(t[k]);
      });
    });
  }

  it('walker events as the fields form, from the walker log', () => {
    const ev = { event: 'kvm_mmu_pagetable_walk' as const, fields: { addr: '0xffffff0000201ff8', pferr: 0x14 }, text: '' };
    const l = formatFieldsForm(ev.event, walkRawFields(ev));
    expect(l).toBe(`kvm_mmu_pagetable_walk: addr=0xffffff0000201ff8 (${BigInt.asIntN(64, 0xffffff0000201ff8n)}) pferr=0x14 (20)`);
    expect(parseTraceLine(l, 1)).toMatchObject({ kind: 'event', form: 'fields', fields: { addr: 0xffffff0000201ff8n, pferr: 0x14 } });
  });

  it('the fields form of bytes: (n) when not printable, a quoted character when it is, signed bytes negative', () => {
    const l = formatFieldsForm('kvm_mmu_set_spte', { gfn: 0x300n, spte: 0x2000300e67n, sptep: 0x100021020n, level: 1, r: true, x: false, u: -1 });
    expect(l).toBe(`kvm_mmu_set_spte: gfn=0x300 (768) spte=0x2000300e67 (${0x2000300e67}) sptep=0x100021020 (4295102496) level=(1) r=(1) x=(0) u=(-1)`);
    expect(parseTraceLine(formatFieldsForm('kvm_mmu_zap_all_fast', { mmu_valid_gen: 65, mmu_used_pages: 3 }), 1)).toMatchObject({ fields: { mmu_valid_gen: 65, mmu_used_pages: 3 } });
    expect(formatFieldsForm('kvm_mmu_zap_all_fast', { mmu_valid_gen: 65, mmu_used_pages: 3 })).toContain("mmu_valid_gen='A'");
  });

  it('lines that are not events say why', () => {
    expect(parseTraceLine('hello world', 7)).toMatchObject({ kind: 'bad', line: 7, why: expect.stringMatching(/not a trace line/) });
    expect(parseTraceLine('kvm_mmu_get_page: sp gen 0 gfn zz', 2)).toMatchObject({ kind: 'bad', why: expect.stringMatching(/does not match the event's format/) });
    expect(parseTraceLine('x-1 [000] 1.000000: kvm_mmu_get_page: mmu_valid_gen=(0) role=0x1 (1)', 3)).toMatchObject({ kind: 'bad', why: expect.stringMatching(/expected field gfn=/) });
    expect(parseTraceLine('CPU:1 [LOST 12 EVENTS]', 4)).toMatchObject({ kind: 'skip', why: 'lost' });
  });
});

describe('shadow-mmu trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smmu-trace-'));
  const f = forms('long4.kvm', 'v6.18');
  const fileText = join(dir, 'text.trace');
  const fileFields = join(dir, 'fields.trace.gz');
  writeFileSync(fileText, '# tracer: nop\n#\n' + f.tracefs.join('\n') + '\n');
  writeFileSync(fileFields, gzipSync('# tracer: nop\n' + f.fields.join('\n') + '\n'));

  it('stat: counts per event equal a plain grep', async () => {
    const r = await runCli(['trace', 'stat', fileText, '--format', 'json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    const grep = (ev: string) => Number(execFileSync('sh', ['-c', `grep -c ' ${ev}: ' ${fileText} || true`], { encoding: 'utf8' }).trim());
    expect(Object.keys(s.events).length).toBeGreaterThan(5);
    for (const [ev, n] of Object.entries(s.events)) expect(n, ev).toBe(grep(ev));
    expect(s.get_page['l4 8-byte q0 wux nxe ad']).toEqual({ created: 2, existing: 2 });
    expect(s.per_cpu).toEqual({ 0: Math.ceil(f.bare.length / 2), 1: Math.floor(f.bare.length / 2) });
    const g = await runCli(['trace', 'stat', fileFields, '--format', 'json']);
    expect(JSON.parse(g.stdout).events).toEqual(s.events);
  });

  it('decode: the text form with its printed role fields, the fields form with the whole word', async () => {
    const t = await runCli(['trace', 'decode', fileText]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('kvm_mmu_get_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync new\n    # role (as printed): level=4 has_4_byte_gpte=0 quadrant=0 direct=0 access=7 invalid=0 efer_nx=1 ad_disabled=0\n');
    const j = await runCli(['trace', 'decode', fileFields, '--format', 'jsonl', '--profile', 'v6.18']);
    const recs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(recs).toHaveLength(f.bare.length);
    const pages = recs.filter((r) => r.role);
    expect(pages.map((r) => r.role)).toEqual(f.roles.map((w) => decodeRole(roleLayout(f.profile), w)));
    expect(pages[0]).toMatchObject({ form: 'fields', task: 'qemu-system-x86', pid: 4242, role_text: 'l4 8-byte q0 wux nxe ad' });
  });

  it('diff: the same run in text and fields form agrees; v5.16 vs v6.18 differ; --exact sees host fields', async () => {
    const same = await runCli(['trace', 'diff', fileText, fileFields]);
    expect(same.stdout).toMatch(/the traces agree/);
    expect(same.code).toBe(0);
    const old = join(dir, 'v516.trace');
    writeFileSync(old, forms('long4.kvm', 'v5.16').bare.join('\n') + '\n');
    const d = await runCli(['trace', 'diff', old, fileText, '--profile', 'v5.16', '--profile-b', 'v6.18']);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/^--- .*\n\+\+\+ .*\n# \d+ vs \d+ kvmmmu events; only in A: \d+, only in B: \d+\n# first divergence: A line \d+: -kvm_mmu_set_spte: gfn 1fc0 spte 0 \(r-x-\)/);
    const shifted = join(dir, 'shifted.trace');
    writeFileSync(shifted, f.bare.map((l) => l.replace(/pfn 2([0-9a-f]+)/, 'pfn 3$1')).join('\n') + '\n');
    expect((await runCli(['trace', 'diff', fileText, shifted])).code).toBe(0);
    expect((await runCli(['trace', 'diff', fileText, shifted, '--exact'])).code).toBe(1);
  });

  it('unreadable lines: reported with their line number, or with --strict an error (exit 2, one line)', async () => {
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, f.bare.slice(0, 3).join('\n') + '\nnot an event\n' + f.bare[3] + '\n');
    const r = await runCli(['trace', 'stat', bad]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`shadow-mmu trace: ${bad} line 4: not a trace line: "not an event"\n`);
    const s = await runCli(['trace', 'stat', bad, '--strict']);
    expect(s.code).toBe(2);
    expect(s.stdout).toBe('');
    expect(s.stderr.trim().split('\n')).toHaveLength(1);
    expect(s.stderr).toMatch(/line 4/);
    for (const argv of [['trace'], ['trace', 'decode'], ['trace', 'frob', bad], ['trace', 'diff', bad], ['trace', 'stat', join(dir, 'missing')], ['trace', 'decode', bad, '--format', 'json']]) {
      const e = await runCli(argv);
      expect(e.code, argv.join(' ')).toBe(2);
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('streams: a 1e6-line trace from stdin in a 64 MB heap', async () => {
    const bin = resolve(__dirname, '../../bin/shadow-mmu.js');
    const child = spawn(process.execPath, ['--max-old-space-size=64', bin, 'trace', 'stat', '-', '--format', 'json'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const block = f.tracefs.slice(0, 100).join('\n') + '\n';
    const N = 10_000;
    for (let i = 0; i < N; i++) if (!child.stdin.write(block)) await new Promise((r) => child.stdin.once('drain', r));
    child.stdin.end();
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    const s = JSON.parse(out);
    expect(s.lines).toBe(100 * N);
    expect(Object.values(s.events as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(100 * N);
  }, 120_000);
});
