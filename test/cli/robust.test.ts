/** Regression tests for issue 12's input defects: deep JSON, long quotes, ignored options, empty/dir/binary input, EPIPE. */
import { mkdtempSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { jsonTooDeepAt, parseJson } from '../../src/bits/json-input.js';
import { readInput } from '../../src/bits/input-file.js';
import { parseScenario } from '../../src/scenario/index.js';
import { quote } from '../../src/bits/quote.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'smmu-robust-'));
const file = (name: string, body: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const nest = (d: number): string => '['.repeat(d) + ']'.repeat(d);
const scenario = readFileSync('test/scenario/data/shadow64.json', 'utf8');

function refused(r: { code: number; stdout: string; stderr: string }, re?: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.length).toBeLessThan(400);
  if (re) expect(r.stderr).toMatch(re);
}

describe('issue 12 regressions', () => {
  it('eval: a 5000-deep line gets its own "error"; the other lines keep their output; exit 1', async () => {
    const input = ['{"kind":"zzz","id":"a"}', `{"profile":"v5.16","fn":"x","in":${nest(5000)}}`, '{"kind":"zzz","id":"b"}', ''].join('\n');
    const r = await runCli(['eval'], input);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({ id: 'a', error: 'record kind "zzz" is not known to eval' });
    expect(lines[1].error).toMatch(/line 2: nested deeper than 256 levels/);
    expect(lines[2].id).toBe('b');
  });

  it('eval: a 1e5-deep line is refused without a stack overflow', async () => {
    const r = await runCli(['eval'], `${nest(100000)}\n`);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatch(/nested deeper/);
  });

  it('run: deep JSON (3000, 1e5) is one clean line and exit 2', async () => {
    for (const d of [3000, 100000]) {
      const p = file(`deep${d}.json`, `{"profile":"v6.18","steps":[{"op":${nest(d)}}]}`);
      refused(await runCli(['run', p]), /nested deeper than 256 levels/);
    }
  });

  it('run: an error quotes at most ~80 characters of a long value', async () => {
    const sc = JSON.parse(scenario);
    sc.steps = [{ op: 'x'.repeat(20000) }];
    const r = await runCli(['run', file('long.json', JSON.stringify(sc))]);
    refused(r);
    expect(r.stderr.length).toBeLessThan(200);
    const v = [[[[1, 2, 3]]], 'y'.repeat(1000)];
    expect(quote(v).length).toBeLessThanOrEqual(80);
    expect(quote('\u0000\u001b[31m')).toBe('"\\u0000\\u001b[31m"');
  });

  it('the depth scan skips brackets in strings and is not fooled by escapes', () => {
    expect(jsonTooDeepAt(JSON.stringify({ a: '['.repeat(1000) + '\\"' }))).toBe(-1);
    expect(jsonTooDeepAt(nest(257))).toBe(256);
    expect(jsonTooDeepAt(nest(256))).toBe(-1);
  });

  it('run: --profile and --pvm on a JSON op scenario are usage errors; an unknown profile is an error', async () => {
    const p = file('ops.json', scenario);
    refused(await runCli(['run', p, '--profile', 'v9.99']), /--profile applies to guest and VM scenarios/);
    refused(await runCli(['run', p, '--profile', 'v5.16']), /--profile applies/);
    refused(await runCli(['run', p, '--pvm']), /--pvm applies to guest/);
    refused(await runCli(['run', 'examples/rfc-pse-slip.kvm', '--profile', 'v9.99']), /unknown profile "v9.99"/);
    refused(await runCli(['run', 'examples/diff/unmappable-gpa.json', '--pvm']), /--pvm applies to guest/);
    refused(await runCli(['run', 'examples/diff/unmappable-gpa.json', '--profile', 'v9.99']), /unknown profile/);
  });

  it('run: empty, directory, binary, bad gzip files are refused; gzip is read', async () => {
    refused(await runCli(['run', file('empty.json', '')]), /is empty/);
    refused(await runCli(['run', file('blank.kvm', '\n  \n')]), /is empty/);
    refused(await runCli(['run', dir]), /is a directory/);
    const bin = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe]);
    const r = await runCli(['run', file('bin.dat', bin)]);
    refused(r, /binary data/);
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u001b\u007f-\uffff]/);
    refused(await runCli(['run', file('latin1.kvm', Buffer.from('vm\nmap \xe9\xff\n', 'latin1'))]), /not UTF-8/);
    refused(await runCli(['run', file('bad.gz', gzipSync(scenario).subarray(0, 40))]), /bad gzip data/);
    const ok = await runCli(['run', file('ok.json.gz', gzipSync(scenario))]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe((await runCli(['run', 'test/scenario/data/shadow64.json'])).stdout);
  });

  it('roles without a subcommand: one line on stderr, exit 2', async () => {
    refused(await runCli(['roles']), /^shadow-mmu: roles: expected a subcommand/);
  });

  it('negative option values and padded addresses get a clear message', async () => {
    refused(await runCli(['diff', 'examples/rfc-pse-slip.kvm', '--profile', 'v5.16', '--profile', 'v6.18', '--context', '-1']), /--context must be a number of lines, got "-1"/);
    refused(await runCli(['lam', 'cr3', '--cr3', '0x1000', '--maxphyaddr', '-5']), /got "-5"/);
    refused(await runCli(['canonical', '0x1000', '--cr4', '--la57']), /--cr4 needs a value/);
    for (const a of [' 0x1000', '0x1000 ', '\t0x1000']) refused(await runCli(['canonical', a]), /unexpected space around the number/);
    const bad = await runCli(['canonical', '0x1000', '--bogus']);
    refused(bad, /unknown option "--bogus"/);
    expect(bad.stderr).not.toMatch(/argument is ambiguous|To specify a positional/);
  });

  it('eval: a directory on stdin is refused (EISDIR), exit 2', async () => {
    const fd = openSync(dir, 'r');
    try {
      const r = spawnSync(process.execPath, ['bin/shadow-mmu.js', 'eval'], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('shadow-mmu: eval: standard input is a directory (EISDIR)\n');
    } finally {
      closeSync(fd);
    }
  });

  it('eval: gzip on stdin is read; bad gzip and binary data are refused', async () => {
    const line = '{"kind":"zzz","id":"g"}\n';
    const gz = gzipSync(line);
    const feed = (b: Buffer) => Readable.from([b]);
    const collect = async (b: Buffer) => {
      let stdout = '';
      let stderr = '';
      const w = (f: (s: string) => void) => new Writable({ write: (c: Buffer, _e, cb) => (f(c.toString()), cb()) });
      const code = await main(['eval'], { stdin: feed(b), stdout: w((s) => (stdout += s)), stderr: w((s) => (stderr += s)) });
      return { code, stdout, stderr };
    };
    const ok = await collect(gz);
    expect(ok.code).toBe(1);
    expect(JSON.parse(ok.stdout).id).toBe('g');
    refused(await collect(gz.subarray(0, 12)), /bad gzip data/);
    refused(await collect(Buffer.from([0x7b, 0x00, 0x7d, 0x0a])), /binary data/);
  });

  it('EPIPE on stdout stops eval promptly and exits 0 quietly', async () => {
    const line = '{"kind":"zzz","id":"a"}\n';
    const total = 200000;
    let produced = 0;
    const stdin = Readable.from(
      (function* () {
        for (let i = 0; i < total / 1000; i++) {
          produced += 1000;
          yield line.repeat(1000);
        }
      })(),
    );
    let writes = 0;
    const stdout = new Writable({
      write(_c, _e, cb) {
        writes++;
        const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
        cb(err);
      },
    });
    stdout.on('error', () => {});
    let stderr = '';
    const errw = new Writable({ write: (c: Buffer, _e, cb) => ((stderr += c.toString()), cb()) });
    const code = await main(['eval'], { stdin, stdout, stderr: errw });
    expect(code).toBe(0);
    expect(writes).toBe(1);
    expect(produced).toBeLessThan(total / 2);
    expect(stderr).toBe('');
  });

  it('a 1e6-step scenario passes the input limits and parses', () => {
    const sc = JSON.parse(scenario);
    sc.steps = [{ op: 'load' }, ...Array.from({ length: 1e6 - 1 }, () => ({ op: 'topup' }))];
    const p = file('million.json', JSON.stringify(sc));
    const parsed = parseScenario(parseJson(readInput(p, 'run'), p), p);
    expect(parsed.steps).toHaveLength(1e6);
  });
});

describe('run reads a JSON op scenario in chunks', () => {
  // A gzipped file is read whole (readInput, JSON.parse): the same file plain goes through the
  // chunked reader; outputs and errors must be byte-identical.
  const both = async (name: string, body: string, args: string[] = []) => {
    const plain = file(name, body);
    const gz = file(name + '.gz', gzipSync(Buffer.from(body)));
    const a = await runCli(['run', plain, ...args]);
    const b = await runCli(['run', gz, ...args]);
    expect(a.stdout).toBe(b.stdout);
    expect(a.code).toBe(b.code);
    expect(a.stderr).toBe(b.stderr.split(gz).join(plain));
    return a;
  };
  const sc = JSON.parse(scenario) as Record<string, unknown> & { steps: unknown[] };
  it('output is the same as the whole-file read, in each format', async () => {
    for (const f of ['text', 'jsonl', 'json']) expect((await both('ok.json', scenario, ['--format', f])).code).toBe(0);
  });
  it('a bad step is refused before any step runs, naming steps[i]; a syntax error names the file position', async () => {
    const bad = { ...sc, steps: [...sc.steps.slice(0, 5), { op: 'get_page', gfn: 'zz', level: 1 }] };
    const r = await both('badstep.json', JSON.stringify(bad));
    refused(r, /^shadow-mmu: steps\[5\]\.gfn: /);
    const s = await both('syntax.json', scenario.replace('"op": "walk"', '"op" "walk"'));
    refused(s, /not valid JSON: .* at position \d+/);
    // header errors come first, as before, even when the key is after the steps
    const late = await both('late.json', JSON.stringify({ ...bad, extra: 1 }));
    refused(late, /unknown key "extra"/);
    // steps before the profile: the steps are checked once the profile is known
    const { steps, ...rest } = bad;
    const first = await both('first.json', '{"steps":' + JSON.stringify(steps) + ',' + JSON.stringify(rest).slice(1));
    refused(first, /^shadow-mmu: steps\[5\]\.gfn: /);
  });
  it('a step text met again is parsed once and runs as itself; the first bad one is named', async () => {
    const cycle = [
      { op: 'get_page', name: 'pd', gfn: '0x101', level: 3 },
      { op: 'link', parent: 'root', index: 3, child: 'pd' },
      { op: 'zap', page: 'pd' },
      { op: 'topup' },
    ];
    const steps = [{ op: 'load' }, ...cycle, ...cycle, ...cycle];
    const r = await both('repeat.json', JSON.stringify({ ...sc, steps }));
    expect(r.code).toBe(0);
    expect(r.stdout.match(/kvm_mmu_get_page: .*gfn 101 l3 .* new/g)).toHaveLength(3);
    // The steps before the profile: the first pass checks only their JSON, the run parses them.
    const { steps: _s, ...head } = sc;
    void _s;
    const late = await both('repeatlate.json', '{"steps":' + JSON.stringify(steps) + ',' + JSON.stringify(head).slice(1));
    expect(late.code).toBe(0);
    expect(late.stdout).toBe(r.stdout);
    const bad = { op: 'zap_oldest', n: 'zz' };
    const b = await both('repeatbad.json', JSON.stringify({ ...sc, steps: [...steps, bad, ...cycle, bad] }));
    refused(b, /^shadow-mmu: steps\[13\]\.n: /);
  });
  it('a step that fails while running stops the run as before', async () => {
    const r = await both('nopage.json', JSON.stringify({ ...sc, steps: [{ op: 'load' }, { op: 'zap', page: 'nope' }] }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no page named "nope"/);
  });
});
