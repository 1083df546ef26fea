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
