/**
 * `npm run bench [-- --suite NAME ...] [--rounds N] [--max-time S] [--profile SPEC ...]`: runs the
 * suites, prints a table and writes bench/results/latest.json. `--profile` (repeatable; a built-in
 * profile, NAME+change, or a patch file, resolved as the CLI resolves --profile) runs the sync and
 * fault suite once per profile instead of its default pair, so a reviewer can compare the work a
 * patch does; without --suite it runs only that suite. `--scale-max 1e6` extends the scale
 * report (`--suite scale`) from 1e5 to 1e6 shadow pages (about 9 GiB resident, minutes).
 */
// First: the JIT's inlining budget, as the CLI sets it (src/bits/jit.ts), before any case runs.
import '../src/bits/jit.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable, runSuite, type CaseResult } from './harness.js';
import { SUITES } from './suites/index.js';
import { syncSuiteFor } from './suites/sync.js';
import { ShadowMmuError } from '../src/bits/errors.js';
import { getProfile } from '../src/profiles/index.js';
import { formatNative, runNative } from './native.js';
import { formatScale, scaleReport, scaleSizesUpTo, type ScaleRow } from './suites/scale.js';
import { evalRates } from './suites/eval.js';

const USAGE = 'usage: npm run bench -- [--suite NAME]... [--rounds N] [--max-time S] [--native] [--profile P]... [--scale-max 1e2..1e6] [--out FILE]';

function options() {
  try {
    return parseArgs({
      options: {
        suite: { type: 'string', multiple: true },
        rounds: { type: 'string', default: '3' },
        'max-time': { type: 'string', default: '0.5' },
        out: { type: 'string' },
        native: { type: 'boolean', default: false },
        profile: { type: 'string', multiple: true },
        'scale-max': { type: 'string', default: '1e5' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message.split('\n')[0]}; ${USAGE}\n`);
    process.exit(2);
  }
}
const { values } = options();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const maxTime = Number(values['max-time']);
if (!Number.isInteger(rounds) || rounds < 1 || !(maxTime > 0)) {
  process.stderr.write('bench: --rounds must be a positive integer and --max-time a positive number of seconds\n');
  process.exit(2);
}
// The scale report's largest size (its harness cases stay at 1e2..1e5): 1e6 takes ~9 GiB and minutes.
const scaleSizes = scaleSizesUpTo(Number(values['scale-max']));
if (!scaleSizes) {
  process.stderr.write(`bench: --scale-max ${values['scale-max']} is not one of 1e2, 1e3, 1e4, 1e5, 1e6\n`);
  process.exit(2);
}
const unknown = (values.suite ?? []).filter((s) => !SUITES.some((x) => x.name === s));
if (unknown.length) {
  process.stderr.write(`bench: unknown suite ${unknown.join(', ')}; suites: ${SUITES.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
const profiles = values.profile ?? [];
for (const p of profiles) {
  try {
    getProfile(p);
  } catch (e) {
    if (!(e instanceof ShadowMmuError)) throw e;
    process.stderr.write(`bench: --profile ${p}: ${e.message}\n`);
    process.exit(2);
  }
}
if (profiles.length && values.native) process.stderr.write('bench: --profile does not apply to --native (its JS cases are v6.18 and v5.16)\n');
if (values.native) {
  // Only the native comparison: C baselines and the same JS paths, interleaved round by round.
  const r = runNative(Math.max(rounds, 3), maxTime);
  const here = dirname(fileURLToPath(import.meta.url));
  const outFile = values.out ?? join(here, '..', '..', 'bench', 'results', 'native.json');
  if ('skipped' in r) {
    process.stdout.write(`bench --native: ${r.skipped}\n`);
  } else {
    process.stdout.write(formatNative(r.rows) + '\n');
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify({ node: process.version, date: new Date().toISOString(), rounds: Math.max(rounds, 3), max_time_s: maxTime, rows: r.rows }, null, 2) + '\n');
    process.stderr.write(`bench: wrote ${outFile}\n`);
  }
  process.exit(0);
}
const chosen = SUITES.filter((s) => (!values.suite ? !profiles.length || s.name === 'sync' : values.suite.includes(s.name))).map((s) =>
  s.name === 'sync' && profiles.length ? syncSuiteFor(profiles) : s,
);
const results: CaseResult[] = [];
for (const s of chosen) {
  process.stderr.write(`bench: ${s.name} (${s.cases.length} cases x ${rounds} rounds)\n`);
  results.push(...runSuite(s, { rounds, maxTime }));
}
process.stdout.write(formatTable(results) + '\n');
if (chosen.some((s) => s.name === 'eval')) process.stdout.write('\n' + evalRates(results) + '\n');
let scale: ScaleRow[] | undefined;
if (chosen.some((s) => s.name === 'scale')) {
  process.stderr.write(`bench: scale report (${rounds} rounds)\n`);
  scale = scaleReport(rounds, maxTime, scaleSizes);
  process.stdout.write('\n' + formatScale(scale) + '\n');
}
const here = dirname(fileURLToPath(import.meta.url));
// dist/bench/run.js -> <root>/bench/results
const outFile = values.out ?? join(here, '..', '..', 'bench', 'results', 'latest.json');
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(
  outFile,
  JSON.stringify({ node: process.version, date: new Date().toISOString(), rounds, max_time_s: maxTime, results, ...(scale ? { scale } : {}) }, null, 2) + '\n',
);
process.stderr.write(`bench: wrote ${outFile}\n`);
