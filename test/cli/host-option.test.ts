import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

// A guest reading a GPA no memslot covers, twice.
const MMIO = 'vm name=mmio mode=long cpl=3\nmap 0x400000 0x8000000\nread 0x400000\nread 0x400000\n';

describe('run / diff --host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smmu-host-'));
  const guest = join(dir, 'mmio.kvm');
  writeFileSync(guest, MMIO);

  it('default (mmio_caching on) caches the MMIO translation; recorded (mmio_caching=N) walks the guest again', async () => {
    const d = await runCli(['run', guest, '--host', 'default']);
    const r = await runCli(['run', guest, '--host', 'recorded']);
    expect(d.code).toBe(0);
    expect(r.code).toBe(0);
    const second = (out: string) => out.split('# step 2:')[1]!.split('# ')[0]!;
    expect(second(d.stdout)).not.toContain('kvm_mmu_pagetable_walk: addr 400000');
    expect(second(r.stdout)).toContain('kvm_mmu_pagetable_walk: addr 400000 pferr 4 U');
    expect(d.stdout).toContain('kvm_mmu_spte_requested: gfn 8000 pfn 0 level 1');
    expect(r.stdout).not.toContain('kvm_mmu_spte_requested: gfn 8000');
    const file = join(dir, 'host.json');
    writeFileSync(file, JSON.stringify({ mmio_caching: false }));
    expect((await runCli(['run', guest, '--host', file])).stdout).toBe(r.stdout);
    expect((await runCli(['run', guest])).stdout).toBe(d.stdout);
  });

  it('diff takes it too', async () => {
    const a = await runCli(['diff', guest, '--profile', 'v5.16', '--profile', 'v6.18', '--host', 'recorded', '--format', 'json']);
    const b = await runCli(['diff', guest, '--profile', 'v5.16', '--profile', 'v6.18', '--format', 'json']);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it('bad hosts: one line, exit 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ mmio: 1 }));
    for (const [argv, re] of [
      [['run', guest, '--host', 'nope'], /unknown host "nope"/],
      [['run', guest, '--host', bad], /unknown key "mmio"/],
      [['run', guest, '--host', join(dir, 'none.json')], /ENOENT/],
      [['run', join(__dirname, '../scenario/data/shadow64.json'), '--host', 'recorded'], /--host applies to guest/],
    ] as [string[], RegExp][]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe('--host no-la57', () => {
  it('a la57=1 guest on a host without LA57: KVM_SET_SREGS fails with EINVAL at creation, every step skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-la57-'));
    const g = join(dir, 'five.kvm');
    writeFileSync(g, 'vm name=five mode=long cpl=3 la57=1\nmap 0x400000 0x300000\npoke 0x300000 0x1111\nread 0x400000\n');
    const no = await runCli(['run', g, '--host', 'no-la57']);
    expect(no.code).toBe(0);
    expect(no.stdout).toContain('# KVM_SET_SREGS at creation failed: errno 22 (EINVAL)\n');
    expect(no.stdout).toContain('# step 0: read 0x400000 -> skipped');
    const j = await runCli(['run', g, '--host', 'no-la57', '--format', 'jsonl']);
    expect(JSON.parse(j.stdout.split('\n')[0]!)).toEqual({ vm: 0, set_sregs_errno: 22 });
    const yes = await runCli(['run', g]);
    expect(yes.stdout).toContain('value 0x1111');
    expect(yes.stdout).not.toContain('errno 22');
    // A 4-level guest does not care.
    writeFileSync(g, 'vm name=four mode=long cpl=3\nmap 0x400000 0x300000\npoke 0x300000 0x1111\nread 0x400000\n');
    expect((await runCli(['run', g, '--host', 'no-la57'])).stdout).toContain('value 0x1111');
  });
});
