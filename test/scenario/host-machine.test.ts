import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getProfile, PROFILE_NAMES } from '../../src/profiles/index.js';
import { renderGuestText, runGuestScenario } from '../../src/scenario/index.js';
import { hostFromMachine } from '../../src/scenario/host-machine.js';
import { parseHostOption } from '../../src/scenario/host-option.js';
import { runCli } from '../support/cli.js';

const HOSTS = join(__dirname, 'data', 'hosts');
const F4 = join(__dirname, 'data', 'f4-unsync-child.kvm');

describe('--host cpuinfo: a host from /proc/cpuinfo and the KVM module parameters', () => {
  it('the PVM host this project runs on (a saved copy): AMD, 48 bits, no LA57, mmio_caching=Y, eager_zap_unsync_children=N, kvm_pvm', () => {
    const h = hostFromMachine(join(HOSTS, 'pvm-6.18'));
    expect(h.host).toEqual({ vendor: 'amd', cpu: 'amd-48', mmio_caching: true, eager_zap_unsync_children: false, thp: false, nx_huge_pages: false });
    expect(h.la57).toBe(false);
    expect(h.pvm).toBe(true);
    expect(h.facts).toContain('eager_zap_unsync_children=false (kvm.eager_zap_unsync_children)');
  });
  it('an Intel shadow-paging host with L1TF reads the first processor only and THP [always]', () => {
    const h = hostFromMachine(join(HOSTS, 'intel-shadow-l1tf'));
    expect(h.host).toEqual({ vendor: 'intel', cpu: 'intel-46-l1tf', mmio_caching: false, thp: true });
    expect(h.la57).toBe(false);
    expect(h.pvm).toBe(false);
  });
  it('a host running KVM with EPT is refused: its guest faults never reach the shadow MMU', () => {
    expect(() => hostFromMachine(join(HOSTS, 'intel-ept'))).toThrow(/kvm_intel\.ept=Y/);
  });
  it('cpuinfo:ROOT is the same as hostFromMachine(ROOT); a missing root is a typed error', () => {
    expect(parseHostOption(`cpuinfo:${join(HOSTS, 'pvm-6.18')}`)).toEqual(hostFromMachine(join(HOSTS, 'pvm-6.18')));
    expect(() => parseHostOption('cpuinfo:/nonexistent-root')).toThrow(/cannot read \/nonexistent-root\/proc\/cpuinfo \(ENOENT\)/);
  });
  it('run --host cpuinfo:ROOT prints what it read, then the run; --cpuinfo with --host is a usage error', async () => {
    const r = await runCli(['run', F4, '--host', `cpuinfo:${join(HOSTS, 'pvm-6.18')}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['# host: cpu=amd-48 (vendor_id AuthenticAMD, 48 bits physical)', '# host: la57=false (cpuinfo flags)']);
    const both = await runCli(['run', F4, '--cpuinfo', '--host', 'recorded']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--cpuinfo is --host cpuinfo/);
  });
  it('run --cpuinfo on this machine either runs or says in one line why not', async () => {
    const r = await runCli(['run', F4, '--cpuinfo']);
    if (r.code === 0) expect(r.stdout).toMatch(/^# host: cpu=/);
    else {
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('the guest MAXPHYADDR is the host\'s (kvm-probe sets KVM_GET_SUPPORTED_CPUID; 0x80000008 under shadow paging)', () => {
  it('MOV CR3 with bit 46 set: #GP on the recorded 46-bit machine, accepted on this 48-bit AMD host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-mpa-'));
    const file = join(dir, 'mpa.kvm');
    writeFileSync(file, 'vm name=mpa mode=long cpl=0\nmovcr3 0x400000100000\n');
    const step = (out: string) => out.split('\n').find((l) => l.startsWith('# step 1:'));
    const rec = await runCli(['run', file]);
    expect(rec.code).toBe(0);
    expect(step(rec.stdout)).toBe('# step 1: movcr3 0x400000100000 -> exit SHUTDOWN, exceptions [[13,0]], emulated');
    const here = await runCli(['run', file, '--host', `cpuinfo:${join(HOSTS, 'pvm-6.18')}`]);
    expect(here.code).toBe(0);
    expect(step(here.stdout)).toBe('# step 1: movcr3 0x400000100000 -> exit DEBUG, emulated');
  });
});

describe('F4: eager_zap_unsync_children (a host trait)', () => {
  const zapStep = (events: string[]) => events.filter((e) => e.startsWith('kvm_mmu_prepare_zap_page') || e.startsWith('kvm_mmu_sync_page'));
  for (const p of PROFILE_NAMES) {
    it(`${p}: upstream zaps the unsync child with its parent; eager_zap_unsync_children=false leaves it to be found again`, () => {
      const text = readFileSync(F4, 'utf8');
      const up = runGuestScenario(text, { profile: getProfile(p) });
      const pvm = runGuestScenario(text, { profile: getProfile(p), host: { eager_zap_unsync_children: false } });
      expect(up.violations).toEqual([]);
      expect(pvm.violations).toEqual([]);
      // The text lines of step i (between its '# step i:' header and the next '#' line).
      const ev = (r: typeof up, i: number): string[] => {
        const lines = renderGuestText(r).split('\n');
        const at = lines.findIndex((l) => l.startsWith(`# step ${i}:`));
        const end = lines.findIndex((l, j) => j > at && l.startsWith('#'));
        return lines.slice(at + 1, end);
      };
      const zapUp = zapStep(ev(up, 3));
      const zapPvm = zapStep(ev(pvm, 3));
      expect(zapUp.map((e) => `${e.split(':')[0]} ${/ gfn ([0-9a-f]+) /.exec(e)![1]}`)).toEqual(['kvm_mmu_prepare_zap_page 102', 'kvm_mmu_prepare_zap_page 103', 'kvm_mmu_sync_page 103']);
      expect(zapPvm).toHaveLength(1);
      expect(zapPvm[0]).toMatch(/^kvm_mmu_prepare_zap_page: .* gfn 102 l2 /);
      expect(ev(pvm, 4).find((e) => /kvm_mmu_get_page: .* gfn 103 l1 /.test(e))).toMatch(/ unsync existing$/);
      expect(ev(up, 4).find((e) => /kvm_mmu_get_page: .* gfn 103 l1 /.test(e))).toMatch(/ sync new$/);
    });
  }
});
