/** `shadow-mmu fuzz`: seeded random guests across profiles, the auditor and cross-checks after every step. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ShadowMmuError } from '../../bits/errors.js';
import { runSlice, type CaseFailure, type CampaignSlice, type SliceResult } from '../../fuzz/campaign.js';
import { runFuzzCase } from '../../fuzz/run.js';
import { runGuestFuzzCase } from '../../fuzz/run-guest.js';
import { replayOps } from '../../fuzz/ops.js';
import { isVmScenario } from '../../scenario/vm.js';
import { isGuestScenario } from '../../scenario/guest.js';
import { getProfile, PROFILE_NAMES } from '../../profiles/index.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write } from '../io.js';

const USAGE = `usage: shadow-mmu fuzz [--profile P]... [--seed S] [--ops N] [--steps-per-vm K] [--workers W] [--out DIR] [--format text|json]
       shadow-mmu fuzz --replay FILE --profile P

Runs N operations as N/K random VMs of K steps each (guests in every paging mode: 32-bit, PSE,
PAE, 4- and 5-level, and L2 under nested NPT or nested EPT; steps: CPU accesses at CPL 3 and
0, emulated accesses, guest page-table writes the MMU is told of and host writes it is not,
INVLPG, MOV CR3, INVEPT), VM i under profile i mod P, with the invariant auditor after every step and cross-checks
that need no oracle (an access the shadow tables allow must be one the guest's tables allow, at
the same GPA; a #PF or EPT exit one they refuse). VM i's scenario comes from the seed and i alone, so a run
splits the same way over any number of workers. A failure is shrunk to a minimal scenario,
saved under --out (default ./fuzz-failures) with the command that replays it; exit 1.

  --profile P       profiles to cycle through (default: every built-in profile)
  --seed S          campaign seed (default 1)
  --ops N           total operations (default 10000)
  --steps-per-vm K  steps per VM (default 100)
  --workers W       worker threads (default 1)
  --kind K          vm (VM scenarios on the fault-path facade, with cross-checks), guest
                    (kvm-probe-language guests through the instruction executor), ops (JSON op
                    sequences on the shadow-page machinery, failures injected at cache sites;
                    a failure is saved as a scenario for shadow-mmu run), or all (default:
                    VM i by i mod 3: vm, guest, ops)
  --replay FILE     run one saved scenario with the same checks`;

function merge(rs: SliceResult[]): SliceResult {
  const out: SliceResult = { vms: 0, steps: 0, checks: 0, failures: [], modes: {}, unsupported: 0 };
  for (const r of rs) {
    out.vms += r.vms;
    out.unsupported += r.unsupported;
    out.steps += r.steps;
    out.checks += r.checks;
    out.failures.push(...r.failures);
    for (const [k, v] of Object.entries(r.modes)) out.modes[k] = (out.modes[k] ?? 0) + v;
  }
  out.failures.sort((a, b) => a.vm - b.vm);
  out.modes = Object.fromEntries(Object.entries(out.modes).sort());
  return out;
}

function runWorker(slice: CampaignSlice): Promise<SliceResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('../../fuzz/worker.js', import.meta.url), { workerData: slice });
    w.once('message', (m: SliceResult) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`fuzz worker exited with ${code}`)));
  });
}

const int = (cmd: string, name: string, v: string, min: number, max: number): number => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) usageError(cmd, `--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return Number(v);
};

export const fuzzCommand: Command = {
  name: 'fuzz',
  summary: 'seeded random guests across profiles with the auditor and cross-checks after every step; failures shrunk to a scenario file',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse('fuzz', argv, {
      profile: { type: 'string', multiple: true },
      seed: { type: 'string', default: '1' },
      ops: { type: 'string', default: '10000' },
      'steps-per-vm': { type: 'string', default: '100' },
      workers: { type: 'string', default: '1' },
      out: { type: 'string', default: 'fuzz-failures' },
      replay: { type: 'string' },
      kind: { type: 'string', default: 'all' },
    });
    if (values.help) {
      await write(io.stdout, USAGE + '\n');
      return 0;
    }
    if (positionals.length) usageError('fuzz', `unexpected argument ${JSON.stringify(positionals[0])}`);
    if (values.format !== 'text' && values.format !== 'json') usageError('fuzz', `--format must be text or json, got ${JSON.stringify(values.format)}`);
    if (values.replay !== undefined) {
      if ((values.profile ?? []).length !== 1) usageError('fuzz', '--replay takes exactly one --profile');
      let text: string;
      try {
        text = readFileSync(values.replay, 'utf8');
      } catch (e) {
        throw new ShadowMmuError('EINVAL_INPUT', `fuzz: cannot read ${values.replay}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const profile = getProfile(values.profile![0]!);
      let r;
      if (isGuestScenario(text)) r = runGuestFuzzCase(text, profile);
      else {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (e) {
          throw new ShadowMmuError('EINVAL_INPUT', `fuzz: ${values.replay} is not JSON: ${(e as Error).message}`);
        }
        if (isVmScenario(json)) r = runFuzzCase(json, profile);
        else {
          // A JSON op scenario (the ops kind): replayed under the given profile.
          const steps = json && typeof json === 'object' && Array.isArray((json as { steps?: unknown }).steps) ? ((json as { steps: unknown[] }).steps.length) : 0;
          let failure;
          try {
            failure = replayOps({ ...(json as Record<string, unknown>), profile: profile.name });
          } catch (e) {
            throw new ShadowMmuError('EINVAL_INPUT', `fuzz --replay ${values.replay}: ${(e as Error).message}`);
          }
          r = { steps, checks: 0, failure };
        }
      }
      if (r.failure?.kind === 'setup') throw new ShadowMmuError('EINVAL_INPUT', `fuzz --replay ${values.replay}: ${r.failure.what}`);
      await write(io.stdout, values.format === 'json' ? JSON.stringify(r) + '\n' : r.failure ? `step ${r.failure.step}: ${r.failure.kind}: ${r.failure.what}\n` : `ok: ${r.steps} steps, ${r.checks} cross-checks\n`);
      return r.failure ? 1 : 0;
    }
    const profiles = values.profile ?? [...PROFILE_NAMES];
    for (const p of profiles) getProfile(p);
    const seed = int('fuzz', 'seed', values.seed, 0, 0xffffffff);
    const ops = int('fuzz', 'ops', values.ops, 1, 1e9);
    const spv = int('fuzz', 'steps-per-vm', values['steps-per-vm'], 1, 1e6);
    const workers = int('fuzz', 'workers', values.workers, 1, 64);
    const vms = Math.ceil(ops / spv);
    const t0 = performance.now();
    const kind = values.kind;
    if (kind !== 'vm' && kind !== 'guest' && kind !== 'ops' && kind !== 'all') usageError('fuzz', `--kind must be vm, guest, ops or all, got ${JSON.stringify(kind)}`);
    const slices: CampaignSlice[] = Array.from({ length: workers }, (_, w) => ({ seed, profiles, vms, stepsPerVm: spv, first: w, stride: workers, kind }));
    const r = merge(workers === 1 ? [runSlice(slices[0]!)] : await Promise.all(slices.map(runWorker)));
    const secs = (performance.now() - t0) / 1000;
    const saved: { file: string; f: CaseFailure; cmd: string }[] = [];
    if (r.failures.length) {
      mkdirSync(values.out, { recursive: true });
      for (const f of r.failures) {
        const base = join(values.out, `fuzz-${seed}-vm${f.vm}-${f.profile.replace(/[^\w.-]/g, '_')}`);
        const note = `vm ${f.vm}, shrunk from ${f.originalSteps} steps; ${f.failure.kind} at step ${f.failure.step}: ${f.failure.what}`;
        const file = typeof f.scenario === 'string' ? base + '.kvm' : base + '.json';
        if (typeof f.scenario === 'string') writeFileSync(file, `# ${note.replace(/\n/g, ' ')}\n${f.scenario}`);
        else writeFileSync(file, JSON.stringify({ ...f.scenario, comment: `${String(f.scenario['comment'])}; ${note}` }, null, 1) + '\n');
        saved.push({ file, f, cmd: `shadow-mmu fuzz --replay ${file} --profile ${f.profile}` });
      }
    }
    if (values.format === 'json') {
      await write(io.stdout, JSON.stringify({ seed, kind, profiles, vms: r.vms, steps: r.steps, checks: r.checks, unsupported: r.unsupported, modes: r.modes, failures: saved.map((s) => ({ vm: s.f.vm, profile: s.f.profile, ...s.f.failure, file: s.file, replay: s.cmd })) }, null, 1) + '\n');
    } else {
      const lines = [
        `fuzz: seed ${seed}, ${r.vms} VMs x ${spv} steps (${kind}) over ${profiles.join(', ')}: ${r.steps} steps, ${r.checks} cross-checks, ${r.unsupported} guest(s) stopped at an instruction the model does not run, ${r.failures.length} failure(s) (${secs.toFixed(1)} s, ${workers} worker(s))`,
        `  modes: ${Object.entries(r.modes).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ...saved.map((s) => `  FAIL vm ${s.f.vm} (${s.f.profile}) step ${s.f.failure.step}: ${s.f.failure.kind}: ${s.f.failure.what}\n    saved ${s.file} (${typeof s.f.scenario === 'string' ? `${s.f.scenario.trim().split('\n').length} lines` : `${(s.f.scenario['steps'] as unknown[]).length} steps`}); replay: ${s.cmd}`),
      ];
      await write(io.stdout, lines.join('\n') + '\n');
    }
    return r.failures.length ? 1 : 0;
  },
};
