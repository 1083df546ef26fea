import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { GOLDEN_DIR } from '../support/golden.js';

const g = (f: string) => join(GOLDEN_DIR, f);

describe('eval --check', () => {
  it('every family of oracle file: N/M records match, exit 0', async () => {
    const files = ['roles/v5.16.decode.jsonl.gz', 'spte/rfc-v1.rfc.jsonl.gz', 'cpu/v6.18.tdp.jsonl.gz', 'kvm/roles.jsonl.gz', 'kvm/writes.jsonl.gz'].map(g);
    const r = await runCli(['eval', '--check', ...files]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    lines.forEach((l, i) => expect(l).toMatch(new RegExp(`^${files[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (\\d+)/\\1 records match`)));
    expect(lines[3]).toContain(': 18/18 records match');
  });

  it('a changed expectation is a mismatch naming the record and its first differing field; exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-check-'));
    // A copy with one expected value changed (the vector itself is untouched).
    const recs = gunzipSync(readFileSync(g('kvm/roles.jsonl.gz'))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    const first = recs.findIndex((r) => r.kind === 'root_role');
    recs[first].root_role = '0x1';
    const bad = join(dir, 'roles.jsonl.gz');
    writeFileSync(bad, gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    const r = await runCli(['eval', '--check', bad]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${bad}: 17/18 records match`);
    expect(lines[1]).toMatch(new RegExp(`^  MISMATCH ${recs[first].id}: root_role: expected "0x1", got "0x[0-9a-f]+"$`));
    // Plain (not gzip) JSON Lines with a wrong fn output.
    const fn = gunzipSync(readFileSync(g('roles/v6.18.decode.jsonl.gz'))).toString('utf8').trim().split('\n').slice(0, 3).map((l) => JSON.parse(l));
    const k = Object.keys(fn[1].out)[0]!;
    fn[1].out[k] = 'nope';
    writeFileSync(join(dir, 'fn.jsonl'), fn.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const f = await runCli(['eval', '--check', join(dir, 'fn.jsonl')]);
    expect(f.code).toBe(1);
    expect(f.stdout).toContain('2/3 records match');
    expect(f.stdout).toMatch(new RegExp(`MISMATCH v6\\.18/\\S+#1: ${k}: expected "nope"`));
  });

  it('bad input: one line on stderr, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-check-'));
    writeFileSync(join(dir, 'notgz.jsonl.gz'), 'plain text');
    writeFileSync(join(dir, 'empty.jsonl'), '\n');
    writeFileSync(join(dir, 'broken.jsonl'), '{"fn":\n');
    for (const [argv, re] of [
      [['eval', '--check'], /needs at least one FILE/],
      [['eval', '--check', join(dir, 'missing.jsonl')], /cannot read .*ENOENT/],
      [['eval', '--check', join(dir, 'notgz.jsonl.gz')], /notgz/],
      [['eval', '--check', join(dir, 'empty.jsonl')], /no records with expected fields/],
      [['eval', '--check', join(dir, 'broken.jsonl')], /line 1: invalid JSON/],
      [['eval', 'file.jsonl'], /--check/],
    ] as [string[], RegExp][]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});

describe('package exports', () => {
  it("import 'shadow-mmu' resolves from a dependent project and from inside the repo", () => {
    const root = resolve(__dirname, '../..');
    const dep = mkdtempSync(join(tmpdir(), 'smmu-dep-'));
    mkdirSync(join(dep, 'node_modules'));
    symlinkSync(root, join(dep, 'node_modules', 'shadow-mmu'), 'dir');
    writeFileSync(join(dep, 'package.json'), '{"type":"module"}');
    const code = "import { getProfile, formatRole } from 'shadow-mmu'; console.log(formatRole(getProfile('v6.18'), 0x1704));";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: dep, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^l4 8-byte q0 /);
    const self = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    expect(self).toBe(out);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].types).toBe('./dist/src/index.d.ts');
    expect(readFileSync(join(root, 'dist/src/index.d.ts'), 'utf8')).toMatch(/export \{[^}]*getProfile/);
  });
});

describe('the project stands alone', () => {
  it('README, package.json and .ci/run name nothing outside the repository', () => {
    const root = resolve(__dirname, '../..');
    for (const f of ['README.md', 'package.json', '.ci/run']) {
      expect(readFileSync(join(root, f), 'utf8'), f).not.toMatch(/\.\.\/shared|shared\/(tools|golden|seeds|reference)/);
    }
  });
});
