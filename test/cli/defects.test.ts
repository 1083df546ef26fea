/** Regression tests for the input defects found by trying the CLI as a new user would (issue 12). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneLine } from '../../src/cli/main.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smmu-defects-'));
const refused = async (argv: string[], re: RegExp, stdin = '') => {
  const r = await runCli(argv, stdin);
  expect(r.code, argv.join(' ')).toBe(2);
  expect(r.stdout, argv.join(' ')).toBe('');
  expect(r.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(re);
  return r;
};

describe('input defects', () => {
  it('roles without a subcommand: one line on stderr, exit 2', async () => {
    await refused(['roles'], /expected a subcommand/);
  });

  it('a negative option value is read as the value, not as an ambiguous option', async () => {
    await refused(['diff', 'x.kvm', '--profile', 'v5.16', '--profile', 'v6.18', '--context', '-1'], /--context must be a number of lines, got "-1"/);
    await refused(['trace', 'diff', 'a', 'b', '--context', '-5'], /--context must be a number/);
  });

  it('an address with a space around it is refused', async () => {
    await refused(['canonical', ' 0x1000'], /unexpected space around the number/);
    await refused(['canonical', '0x1000 '], /unexpected space/);
  });

  it('an empty file given to run is an error', async () => {
    const f = join(dir, 'empty.json');
    writeFileSync(f, '\n\n');
    await refused(['run', f], /is empty/);
  });

  it('a binary file given to run: escaped, never raw bytes, and short', async () => {
    const f = join(dir, 'bin.json');
    writeFileSync(f, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0x1b, 0x5b, 0x32, 0x4a]), Buffer.alloc(2000, 0xfe)]));
    const r = await refused(['run', f], /\\x7fELF\\x02/);
    // eslint-disable-next-line no-control-regex
    expect(r.stderr.slice(0, -1)).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(r.stderr.length).toBeLessThan(400);
  });

  it('oneLine escapes control characters and caps the length', () => {
    expect(oneLine('a\u0000b\u001b[2Jc')).toBe('a\\x00b\\x1b[2Jc');
    const long = oneLine('x'.repeat(5000));
    expect(long.length).toBeLessThan(320);
    expect(long).toMatch(/\(4740 more characters\)$/);
  });

  it('--profile on a JSON op scenario is refused; an unknown profile is always an error', async () => {
    const f = join(__dirname, '../scenario/data/shadow64.json');
    await refused(['run', f, '--profile', 'v6.18'], /--profile applies to guest and VM scenarios/);
    await refused(['run', join(__dirname, '../scenario/guest/long4.kvm'), '--profile', 'v9.99'], /v9\.99/);
  });

  it('a deeply nested eval line gets its own error; the lines around it still run', async () => {
    const deep = '['.repeat(6000) + ']'.repeat(6000);
    const good = '{"profile":"v6.18","fn":"decode","in":{"word":"0x1704"}}';
    const r = await runCli(['eval'], `${good}\n${deep}\n${good}\n`);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[1].error).toBeDefined();
    expect(lines[1].error.length).toBeLessThan(200);
    expect(lines[0].out ?? lines[0].error).toEqual(lines[2].out ?? lines[2].error);
  });
});
