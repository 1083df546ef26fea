/**
 * VM teardown as the kernel traces it (kvm_destroy_vm): the MMU notifier's release zaps every
 * page first (kvm_mmu_zap_all over active_mmu_pages, newest first), leaving the root the vCPU
 * still holds invalid with root_count 1; then the vCPU's kvm_mmu_unload drops it and zaps it
 * again at root_count 0 (the role now prints "invalid"). Expectations from the kernel source
 * (kvm_main.c kvm_destroy_vm, mmu.c kvm_mmu_zap_all / mmu_free_root_page); not recorded: this
 * machine has no /dev/kvm.
 */

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.js';
import { renderGuestText, runGuestScenario } from '../../src/scenario/guest.js';
import { formatEventText } from '../../src/trace/print.js';
import { runCli } from '../support/cli.js';

const HERE = dirname(fileURLToPath(import.meta.url));

describe('teardown events of a guest run', () => {
  const text = ['vm name=td cpl=3', 'map 0x8080604000 0x300000', 'read 0x8080604000'].join('\n');
  it('every page is zapped newest first, then the held root once more at root_count 0', () => {
    const p = getProfile('v6.18');
    const r = runGuestScenario(text, { profile: p, pvm: true });
    const lines = r.vms[0]!.teardown.map((e) => formatEventText(p, e));
    expect(lines).toEqual([
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 103 l1 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 102 l2 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 101 l3 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 1fc6 l1 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 1fc5 l2 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 1fc4 l3 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 1 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l4 8-byte q0 wux invalid nxe ad root 0 sync',
    ]);
    // The last step's events are the step's own, not the teardown's.
    expect(r.vms[0]!.steps.at(-1)!.events.some((e) => e.event === 'kvm_mmu_prepare_zap_page')).toBe(false);
    const out = renderGuestText(r).trimEnd().split('\n');
    expect(out.indexOf('# teardown of vm td')).toBe(out.length - 10);
    expect(out.at(-1)).toBe('# audit: ok after 2 steps');
  });
  it('an unsync page is zapped, then traced as synced (kvm_unlink_unsync_page traces sync_page)', () => {
    const p = getProfile('v6.18');
    const r = runGuestScenario(['vm name=td cpl=3', 'map 0x8080604000 0x300000', 'map 0x10000000000 0x103000', 'read 0x8080604000', 'write 0x10000000020 val=0x300027'].join('\n'), { profile: p, pvm: true });
    const lines = r.vms[0]!.teardown.map((e) => formatEventText(p, e));
    const at = lines.indexOf('kvm_mmu_prepare_zap_page: sp gen 0 gfn 103 l1 8-byte q0 wux nxe ad root 0 unsync');
    expect(at).toBe(3);
    expect(lines[at + 1]).toBe('kvm_mmu_sync_page: sp gen 0 gfn 103 l1 8-byte q0 wux nxe ad root 0 unsync');
    expect(lines.filter((l) => l.startsWith('kvm_mmu_sync_page'))).toHaveLength(1);
    expect(lines).toHaveLength(12);
  });
  it('jsonl marks teardown records; each VM of a scenario has its own', async () => {
    const r = await runCli(['run', '--format', 'jsonl', join(HERE, 'guest', 'long4.kvm')]);
    expect(r.code).toBe(0);
    const recs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const td = recs.filter((x) => x['teardown'] === true);
    expect(td.length).toBeGreaterThan(0);
    expect(td.every((x) => x['event'] === 'kvm_mmu_prepare_zap_page' && x['vm'] === 0)).toBe(true);
    // After the last step's records, before the audit.
    const lastStep = recs.map((x) => x['step'] !== undefined).lastIndexOf(true);
    expect(recs.indexOf(td[0]!)).toBeGreaterThan(lastStep);
    expect(recs.at(-1)).toEqual({ audit: 'ok', violations: [] });
  });
});

describe('teardown of a JSON scenario (destroy)', () => {
  it('zaps the held root at root_count 1, then again when the vCPU drops it', async () => {
    const r = await runCli(['run', join(HERE, 'data', 'regs-v6.18.json')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const at = lines.indexOf('# step 5: destroy');
    expect(lines.slice(at + 1, at + 4)).toEqual([
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 0 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l4 8-byte q0 wux nxe ad root 1 sync',
      'kvm_mmu_prepare_zap_page: sp gen 0 gfn 100 l4 8-byte q0 wux invalid nxe ad root 0 sync',
    ]);
  });
});
