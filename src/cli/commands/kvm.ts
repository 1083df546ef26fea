/** `shadow-mmu kvm run|diff|fuzz`: kvm-probe-language guests on this machine's /dev/kvm, and the model checked against it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShadowMmuError } from '../../bits/errors.js';
import { quote } from '../../bits/quote.js';
import { readInput } from '../../bits/input-file.js';
import { diffJson, renderText } from '../../diff/index.js';
import { kvmDiff } from '../../live/diff.js';
import { kvmFuzz } from '../../live/fuzz.js';
import { liveHost, type LiveHost } from '../../live/host.js';
import { LiveSession, runLiveScenario } from '../../live/replay.js';
import { LiveUnavailable } from '../../live/runner.js';
import type { LiveVm } from '../../live/vm.js';
import { oracleStep } from '../../probe/encode.js';
import { parseProbeScenario } from '../../probe/parse.js';
import { getProfile, type Profile } from '../../profiles/index.js';
import { stepEventLines, stepSummary } from '../../scenario/guest.js';
import { eventJson } from '../../trace/json.js';
import { formatEventText } from '../../trace/print.js';
import { MMU_EVENTS } from '../../trace/table.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write, type Io } from '../io.js';

const USAGE = `usage: shadow-mmu kvm run SCENARIO [--profile P] [--format text|jsonl] [--record DIR]
       shadow-mmu kvm diff SCENARIO [--profile P] [--format text|json] [--record DIR] [--exact] [--no-stats] [--context N]
       shadow-mmu kvm fuzz [--seed S] [--vms N] [--steps K] [--profile P] [--out DIR] [--format text|json]

Runs a guest in the kvm-probe scenario language (what shadow-mmu run and diff take) on this
machine's /dev/kvm: the guest laid out exactly as the model lays it, one single-stepped
instruction per step, and what KVM did read back from the runner's own tracefs instance (the
kvmmmu events with whole role words, injected exceptions, emulated instructions), its exits and
its binary statistics. The runner is native/kvm-runner.c, compiled with the system cc on first
use (cached under ~/.cache/shadow-mmu). Needs root (or rw access to /dev/kvm and tracefs); tracefs
is mounted on a temporary directory when it is not mounted.

  run    the scenario on KVM, printed as shadow-mmu run prints the model's (role words decoded
         with --profile's layout, default v6.18)
  diff   the scenario on KVM and on the model under --profile (default v6.18), with this KVM's
         host (CPU, MAXPHYADDR, kvm module parameters), compared with shadow-mmu diff's engine:
         each step's outcome and counters, its kvmmmu and walker events in order (pfns and host
         addresses ignored unless --exact), the VM counters both keep at the end; the model's
         auditor runs after every step and a violation is a difference
  fuzz   N random guests (seeded; VM i from the seed and i alone), each run on both; every VM that
         differs is shrunk to the fewest steps that still differ and saved under --out
         (default ./kvm-fuzz-differences) with the command that replays it

  --record DIR   keep the run: the tracefs text (trace.txt), the step records (steps.jsonl) and
                 the scenario
  --no-stats     diff: leave the per-step counters out of the comparison

Exit status: 0 (diff, fuzz: no difference), 1 (differences), 2 bad input, 77 this machine cannot
run it (no /dev/kvm, no C compiler, no tracefs, a TDP-only KVM), with the reason on stderr.`;

function record(dir: string, scenario: string, vms: readonly LiveVm[]): void {
  try {
    mkdirSync(dir, { recursive: true });
    const trace: string[] = [];
    const steps: string[] = [];
    vms.forEach((vm, i) => {
      trace.push(`# vm ${i} ${vm.cfg.name}`);
      for (const s of vm.steps) {
        trace.push(`# step ${s.step}: ${s.op}`, ...s.trace);
        steps.push(JSON.stringify({ vm: i, step: s.step, ...oracleStep(s) }));
      }
      trace.push(`# teardown of vm ${i}`, ...vm.teardownTrace);
    });
    writeFileSync(join(dir, 'trace.txt'), trace.join('\n') + '\n');
    writeFileSync(join(dir, 'steps.jsonl'), steps.join('\n') + '\n');
    writeFileSync(join(dir, 'scenario.kvm'), scenario);
  } catch (e) {
    throw new ShadowMmuError('EINVAL_INPUT', `kvm: cannot write --record ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function renderRun(profile: Profile, host: LiveHost, vms: readonly LiveVm[]): string {
  const out: string[] = [`# KVM: ${host.summary}`];
  for (const vm of vms) {
    out.push(`# vm ${vm.cfg.name || '(unnamed)'} on KVM, role words read with ${profile.name}'s layout`);
    if (vm.createErrno) out.push(`# KVM_SET_SREGS at creation failed: errno ${vm.createErrno}`);
    for (const s of vm.steps) {
      out.push(stepSummary(s), ...stepEventLines(profile, s));
      for (const p of s.problems) out.push(`# trace: ${p}`);
    }
    if (vm.teardownEvents.length) {
      out.push(`# teardown of vm ${vm.cfg.name || '(unnamed)'}`);
      for (const ev of vm.teardownEvents) if (MMU_EVENTS.has(ev.event)) out.push(formatEventText(profile, ev));
    }
  }
  return out.join('\n') + '\n';
}

function renderRunJsonl(vms: readonly LiveVm[]): string {
  const out: string[] = [];
  const j = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));
  vms.forEach((vm, i) => {
    if (vm.createErrno) out.push(j({ vm: i, set_sregs_errno: vm.createErrno }));
    for (const s of vm.steps) {
      out.push(j({ vm: i, step: s.step, ...oracleStep(s) }));
      for (const ev of s.events) out.push(j({ vm: i, step: s.step, ...eventJson(ev) }));
    }
    for (const ev of vm.teardownEvents) if (MMU_EVENTS.has(ev.event)) out.push(j({ vm: i, teardown: true, ...eventJson(ev) }));
  });
  return out.join('\n') + '\n';
}

const int = (name: string, v: string, min: number, max: number): number => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) usageError('kvm', `--${name} must be an integer in [${min}, ${max}], got ${quote(v)}`);
  return Number(v);
};

async function sub(verb: string, argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(`kvm ${verb}`, argv, {
    profile: { type: 'string' },
    record: { type: 'string' },
    exact: { type: 'boolean', default: false },
    'no-stats': { type: 'boolean', default: false },
    'no-color': { type: 'boolean', default: false },
    context: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    vms: { type: 'string', default: '100' },
    steps: { type: 'string', default: '30' },
    out: { type: 'string', default: 'kvm-fuzz-differences' },
    'timeout-ms': { type: 'string', default: '3000' },
  });
  const profile = getProfile(values.profile ?? 'v6.18');
  const format = values.format;
  const timeoutMs = int('timeout-ms', values['timeout-ms'], 10, 600_000);
  if (verb === 'fuzz') {
    if (positionals.length) usageError('kvm fuzz', 'takes no SCENARIO');
    if (format !== 'text' && format !== 'json') usageError('kvm fuzz', `--format must be text or json, got ${quote(format)}`);
    const seed = int('seed', values.seed, 0, 0xffffffff);
    const nvms = int('vms', values.vms, 1, 10_000_000);
    const steps = int('steps', values.steps, 1, 10_000);
    const session = new LiveSession();
    try {
      const host = liveHost(session.runner);
      const r = kvmFuzz(session, host, { seed, vms: nvms, steps, profile, out: values.out });
      if (format === 'json') await write(io.stdout, JSON.stringify({ host: host.summary, profile: profile.name, seed, ...r }, null, 1) + '\n');
      else {
        const lines = [
          `# shadow-mmu kvm fuzz --seed ${seed} --vms ${nvms} --steps ${steps} --profile ${profile.name}`,
          `# KVM: ${host.summary}`,
          `${r.vms} VMs, ${r.steps} steps, ${r.events} kvmmmu events on KVM, ${(r.ms / 1000).toFixed(1)} s; modes ${Object.entries(r.modes).map(([k, v]) => `${k} ${v}`).join(', ')}`,
          `${r.differences.length} VM(s) differ${r.differences.length ? `, saved under ${values.out}` : ''}${r.unsupported ? `; ${r.unsupported} VM(s) not compared (an instruction the model does not run)` : ''}`,
          ...r.differences.map((d) => `  VM ${d.vm} (${d.steps} steps): ${d.what}${d.file ? `\n    ${d.file}` : ''}`),
        ];
        await write(io.stdout, lines.join('\n') + '\n');
      }
      return r.differences.length ? 1 : 0;
    } finally {
      session.close();
    }
  }
  if (positionals.length !== 1) usageError(`kvm ${verb}`, 'expected one SCENARIO file');
  const file = positionals[0]!;
  const text = readInput(file, `kvm ${verb}`);
  if (text.trimStart().startsWith('{')) usageError(`kvm ${verb}`, `${file} is a JSON scenario: live runs take guests in the kvm-probe language`);
  const cmds = parseProbeScenario(text); // bad input is refused before a VM exists
  const session = new LiveSession();
  try {
    const host = liveHost(session.runner);
    if (verb === 'run') {
      if (format !== 'text' && format !== 'jsonl') usageError('kvm run', `--format must be text or jsonl, got ${quote(format)}`);
      const vms = runLiveScenario(session, cmds, { profile, timeoutMs });
      if (values.record !== undefined) record(values.record, text, vms);
      await write(io.stdout, format === 'text' ? renderRun(profile, host, vms) : renderRunJsonl(vms));
      return 0;
    }
    if (format !== 'text' && format !== 'json') usageError('kvm diff', `--format must be text or json, got ${quote(format)}`);
    if (!/^\d{1,3}$/.test(values.context)) usageError('kvm diff', `--context must be a number of lines, got ${quote(values.context)}`);
    const r = kvmDiff(session, host, text, profile, { exact: values.exact, stats: !values['no-stats'], timeoutMs });
    if (values.record !== undefined) record(values.record, text, r.liveVms);
    const color = format === 'text' && !values['no-color'] && (io.stdout as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined;
    if (format === 'json') await write(io.stdout, JSON.stringify({ host: host.summary, ...(diffJson(file, [r.pair]) as object), trace_problems: r.problems }, null, 1) + '\n');
    else {
      const head = `# KVM: ${host.summary}\n`;
      const problems = r.problems.map((p) => `# trace: ${p}\n`).join('');
      await write(io.stdout, head + problems + (r.differs ? renderText([r.pair], { color, context: Number(values.context), scenario: file }) : `# ${file}: the model under ${profile.name} and this KVM agree (${r.pair.summary.steps} steps)\n`));
    }
    return r.differs ? 1 : 0;
  } finally {
    session.close();
  }
}

export const kvmCommand: Command = {
  name: 'kvm',
  summary: "run a guest scenario on this machine's /dev/kvm (run), compare the model with it (diff), or fuzz both (fuzz)",
  usage: USAGE,
  async run(argv, io) {
    const [verb, ...rest] = argv;
    if (verb === undefined || verb === '--help' || verb === '-h') {
      await write(verb === undefined ? io.stderr : io.stdout, USAGE + '\n');
      return verb === undefined ? 2 : 0;
    }
    if (verb !== 'run' && verb !== 'diff' && verb !== 'fuzz') usageError('kvm', `unknown subcommand ${quote(verb)}: expected run, diff or fuzz`);
    if (rest.includes('--help') || rest.includes('-h')) {
      await write(io.stdout, USAGE + '\n');
      return 0;
    }
    try {
      return await sub(verb, rest, io);
    } catch (e) {
      if (e instanceof LiveUnavailable) {
        await write(io.stderr, `shadow-mmu kvm: cannot run on this machine: ${e.reason}\n`);
        return 77;
      }
      throw e;
    }
  },
};
