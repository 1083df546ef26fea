// `shadow-mmu walk` (issue 4 §2): one address through GUEST.json's tables, explained per level.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'walk-'));
const guestFile = join(dir, 'guest.json');
writeFileSync(
  guestFile,
  JSON.stringify({
    memory: [{ base: '0x0', size: '0x2000000' }],
    cr3: '0x100000',
    alloc: '0x101000',
    map: [{ va: '0x8080604000', gpa: '0x300000', flags: '0x5' }],
  }),
);
const LONG = ['--cr0', '0x80010033', '--cr4', '0x20', '--efer', '0xd00'];

describe('shadow-mmu walk', () => {
  it('explains every level and the permission fault (text)', async () => {
    const r = await runCli(['walk', ...LONG, '--gva', '0x8080604000', '--access', 'write', '--user', guestFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/L4 PML4E +@0x100008 +0x0000000000101007 +P\|RW\|US/);
    expect(r.stdout).toMatch(/L1 PTE .*0x0000000000300005 +P\|US\n +leaf: 4K page; translation -ux/);
    expect(r.stdout).toMatch(/#PF error code 0x7 \(P\|W\|U\): write to a read-only page/);
    expect(r.stdout).toContain('kvm_mmu_walker_error: pferr 7 P|W|U');
  });

  it('json: the gpa, the A bits set and the events of a successful walk', async () => {
    const r = await runCli(['walk', ...LONG, '--gva', '0x8080604123', '--access', 'read', '--user', '--format', 'json', guestFile]);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    expect(x.result).toEqual({ ok: true, gpa: '0x300123', translation: '-ux' });
    expect(x.set_accessed).toEqual(['0x100008', '0x101010', '0x102018', '0x103020']);
    expect(x.levels).toHaveLength(4);
  });

  it('a non-canonical address is #GP(0) without a walk', async () => {
    const r = await runCli(['walk', ...LONG, '--gva', '0x800000000000', '--access', 'read', guestFile]);
    expect(r.stdout).toMatch(/#GP\(0\)/);
  });

  it('--translate walks as KVM_TRANSLATE: no canonical check, A bits set', async () => {
    const r = await runCli(['walk', ...LONG, '--gva', '0xffff008080604000', '--translate', '--format', 'json', guestFile]);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    expect(x.access).toMatchObject({ translate: true, pferr: 0 });
    expect(x.result).toMatchObject({ ok: true, gpa: '0x300000' });
    expect(x.set_accessed).toHaveLength(4);
  });

  it('LAM: with "lam": true and CR3.LAM_U48, a tagged user pointer is untagged before the walk', async () => {
    const lamFile = join(dir, 'lam.json');
    writeFileSync(lamFile, JSON.stringify({ lam: true, cr3: '0x100000', map: [{ va: '0x123456789000', gpa: '0x300000' }] }));
    const args = ['walk', ...LONG, '--gva', '0x7eab123456789000', '--access', 'read', '--user', '--format', 'json'];
    const x = JSON.parse((await runCli([...args, '--cr3', '0x4000000000100000', lamFile])).stdout);
    expect(x.untagged).toBe('0x0000123456789000');
    expect(x.result).toMatchObject({ ok: true, gpa: '0x300000' });
    const y = JSON.parse((await runCli([...args, '--cr3', '0x100000', lamFile])).stdout);
    expect(y.result).toMatchObject({ ok: false, vector: 13 });
  });

  it('bad input: one line on stderr, exit 2', async () => {
    for (const argv of [
      ['walk', ...LONG, '--access', 'read', guestFile],
      ['walk', ...LONG, '--gva', '0x0', '--access', 'exec', guestFile],
      ['walk', ...LONG, '--gva', '0x0', '--access', 'read', join(dir, 'missing.json')],
      ['walk', ...LONG, '--gva', '0x0', '--access', 'read', '--translate', guestFile],
      ['walk', '--cr0', '0x80010033', '--cr4', '0x0', '--efer', '0xd00', '--gva', '0x0', '--access', 'read', guestFile],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
