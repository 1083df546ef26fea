/**
 * The malformed-input corpus: every command, tried with bad flags, bad numbers, bad files and
 * wrong JSON shapes. Each case must be refused the same way: exit 2, exactly one line on stderr,
 * no stack trace, nothing on stdout.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smmu-corpus-'));
const mk = (name: string, body: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const nest = (d: number): string => '['.repeat(d) + ']'.repeat(d);
const guestJson = readFileSync('examples/guest-4level.json', 'utf8');

/** Bad files: each is a path that every file-taking option must refuse. */
const FILES: Record<string, string> = {
  missing: join(dir, 'no-such-file.json'),
  directory: dir,
  empty: mk('empty.json', ''),
  whitespace: mk('ws.json', ' \n\t\n'),
  binary: mk('bin.dat', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0x1b, 0x5b, 0x32, 0x4a])),
  latin1: mk('latin1.json', Buffer.from('{"a":"\xe9\xff"}', 'latin1')),
  'bad gzip': mk('bad.json.gz', gzipSync(guestJson).subarray(0, 30)),
  'gzip of garbage': mk('garbage.json.gz', gzipSync('\u0000\u0001\u0002')),
  'deep 300': mk('deep300.json', `{"a":${nest(300)}}`),
  'deep 1e5': mk('deep1e5.json', `{"a":${nest(100000)}}`),
  'not JSON': mk('notjson.json', '{"a": 1,'),
  'JSON array': mk('array.json', '[1, 2, 3]'),
  'JSON string': mk('string.json', '"hello"'),
  'JSON null': mk('null.json', 'null'),
  'JSON number': mk('number.json', '42'),
  'wrong shape': mk('shape.json', '{"nope": {"deep": [1, {"x": "y"}]}}'),
};

/** Commands with a file slot: the argv with FILE in place of the file. */
const FILE_SLOTS: Record<string, (f: string) => string[]> = {
  'run FILE': (f) => ['run', f],
  'walk FILE': (f) => ['walk', '--cr0', '0x80010001', '--cr4', '0x20', '--efer', '0x500', '--gva', '0x1000', '--translate', f],
  'diff FILE': (f) => ['diff', f, '--profile', 'v5.16', '--profile', 'v6.18'],
  'diff --patch FILE': (f) => ['diff', 'examples/rfc-pse-slip.kvm', '--patch', f, '--profile', 'v6.18'],
  'cpuid query --table FILE': (f) => ['cpuid', 'query', '--table', f, '--leaf', '0'],
  'cpuid set --table FILE': (f) => ['cpuid', 'set', '--table', f],
  'cpuid caps --host FILE': (f) => ['cpuid', 'caps', '--host', f],
  'migrate-check --state FILE': (f) => ['migrate-check', '--dst', 'la57', '--state', f],
  'tdp-check --host FILE': (f) => ['tdp-check', '--host', f, '--maxphyaddr', '52'],
};
// A non-JSON text file is a guest scenario for run/diff, and a /proc/cpuinfo text for --host.
const TEXT_OK = new Set(['not JSON']);

const COMMANDS = ['demo', 'eval', 'profiles', 'roles decode', 'roles encode', 'roles calc', 'roles diff', 'canonical', 'cpuid query', 'cpuid set', 'cpuid caps', 'lam untag', 'lam cr3', 'migrate-check', 'tdp-check', 'walk', 'run', 'diff', 'trace', 'fuzz'];

const BAD_NUMBERS = ['', ' 0x1000', '0x1000 ', '-1', '-0x10', '0x', '0xg1', '1e3', '12abc', '0x1_0000_0000_0000_0000', '99999999999999999999999', 'NaN', '+5', '0b101', '\u001b[31m'];

type Case = [string, string[], string?];
const cases: Case[] = [];

for (const c of COMMANDS) {
  const argv = c.split(' ');
  cases.push([`${c}: unknown flag`, [...argv, '--bogus']]);
  cases.push([`${c}: unknown short flag`, [...argv, '-Z']]);
  cases.push([`${c}: --format xml`, [...argv, '--format', 'xml']]);
  cases.push([`${c}: --format without a value`, [...argv, '--format']]);
  cases.push([`${c}: --help=1`, [...argv, '--help=1']]);
}
for (const [fname, path] of Object.entries(FILES)) {
  for (const [slot, argv] of Object.entries(FILE_SLOTS)) {
    if (TEXT_OK.has(fname) && (slot === 'run FILE' || slot === 'diff FILE' || slot === 'cpuid caps --host FILE' || slot === 'tdp-check --host FILE')) continue;
    cases.push([`${slot}: ${fname}`, argv(path)]);
  }
}
for (const n of BAD_NUMBERS) {
  cases.push([`canonical ${JSON.stringify(n)}`, ['canonical', n]]);
  cases.push([`canonical --cr4 ${JSON.stringify(n)}`, ['canonical', '0x1000', '--cr4', n]]);
  cases.push([`roles decode ${JSON.stringify(n)}`, ['roles', 'decode', n, '--profile', 'v6.18']]);
  cases.push([`lam untag --cr3 ${JSON.stringify(n)}`, ['lam', 'untag', '0x1000', '--cr3', n, '--cr4', '0']]);
  cases.push([`lam cr3 --maxphyaddr ${JSON.stringify(n)}`, ['lam', 'cr3', '--cr3', '0x1000', '--maxphyaddr', n]]);
  cases.push([`tdp-check --maxphyaddr ${JSON.stringify(n)}`, ['tdp-check', '--host', 'ept4', '--maxphyaddr', n]]);
  cases.push([`walk --gva ${JSON.stringify(n)}`, ['walk', '--cr0', '0x80010001', '--cr4', '0x20', '--efer', '0x500', '--gva', n, '--translate', 'examples/guest-4level.json']]);
  cases.push([`migrate-check --lstar ${JSON.stringify(n)}`, ['migrate-check', '--dst', 'la57', '--lstar', n]]);
}
cases.push(
  ['no command', []],
  ['unknown command', ['nope']],
  ['unknown command with control bytes', ['\u001b[2J\u0007']],
  ['roles without a subcommand', ['roles']],
  ['roles unknown subcommand', ['roles', 'frob']],
  ['cpuid without a subcommand', ['cpuid']],
  ['lam without a subcommand', ['lam']],
  ['canonical without an address', ['canonical']],
  ['canonical with two addresses', ['canonical', '1', '2']],
  ['run without a file', ['run']],
  ['run with two files', ['run', 'a', 'b']],
  ['run --format xml', ['run', 'examples/rfc-pse-slip.kvm', '--format', 'xml']],
  ['run --profile unknown (guest)', ['run', 'examples/rfc-pse-slip.kvm', '--profile', 'v9.99']],
  ['run --profile on a JSON op scenario', ['run', 'test/scenario/data/shadow64.json', '--profile', 'v5.16']],
  ['run --pvm on a JSON op scenario', ['run', 'test/scenario/data/shadow64.json', '--pvm']],
  ['run --profile with a negative-looking value', ['run', 'examples/rfc-pse-slip.kvm', '--profile', '-1']],
  ['run --profile followed by a flag', ['run', 'examples/rfc-pse-slip.kvm', '--profile', '--pvm']],
  ['diff with one profile', ['diff', 'examples/rfc-pse-slip.kvm', '--profile', 'v5.16']],
  ['diff --context -1', ['diff', 'examples/rfc-pse-slip.kvm', '--profile', 'v5.16', '--profile', 'v6.18', '--context', '-1']],
  ['diff unknown profile', ['diff', 'examples/rfc-pse-slip.kvm', '--profile', 'v5.16', '--profile', 'v9.99']],
  ['diff unknown change', ['diff', 'examples/rfc-pse-slip.kvm', '--profile', 'v5.16', '--profile', 'v5.16+nope']],
  ['profiles unknown profile', ['profiles', '--profile', 'v9.99']],
  ['demo unknown section', ['demo', '--section', 'nope']],
  ['demo positional', ['demo', 'extra']],
  ['eval positional', ['eval', 'file.jsonl']],
  ['tdp-check without --host', ['tdp-check', '--maxphyaddr', '52']],
  ['tdp-check unknown host', ['tdp-check', '--host', 'nosuchhost', '--maxphyaddr', '52']],
  ['tdp-check bad memslot', ['tdp-check', '--host', 'ept4', '--maxphyaddr', '52', '--memslot', 'zz']],
  ['migrate-check without --dst', ['migrate-check']],
  ['walk bad --access', ['walk', '--cr0', '0x80010001', '--cr4', '0x20', '--efer', '0x500', '--gva', '0', '--access', 'jump', 'examples/guest-4level.json']],
  ['roles encode bad field', ['roles', 'encode', 'nope=1', '--profile', 'v6.18']],
  ['roles calc bad --mmu', ['roles', 'calc', '--mmu', 'nope', '--cr0', '0', '--cr4', '0', '--efer', '0', '--profile', 'v6.18']],
  ['roles diff unknown fn', ['roles', 'diff', '--profile', 'v5.16', '--profile', 'v6.18', '--fn', 'nope']],
  ['roles decode without --profile', ['roles', 'decode', '0x1']],
);

describe('malformed-input corpus', () => {
  it('has at least 150 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });
  it.each(cases)('%s', async (_name, argv) => {
    const r = await runCli(argv);
    expect(r.code, `stderr: ${r.stderr}`).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines, r.stderr).toHaveLength(2);
    expect(r.stderr).toMatch(/^shadow-mmu/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stderr.length).toBeLessThan(420);
  });
});
