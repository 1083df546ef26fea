/** `shadow-mmu run SCENARIO`: drive the shadow-page model from a JSON scenario, or a guest from a kvm-probe scenario. */
import { getProfile } from '../../profiles/index.js';
import { isGuestScenario, parseScenario, renderAuditJsonl, renderAuditText, renderGuestJsonl, renderGuestText, renderStepJsonl, runGuestScenario, runScenarioSteps, stepText, type Scenario, type Step } from '../../scenario/index.js';
import { NotStreamable, scanScenarioFile, type StreamedScenario } from '../../scenario/stream.js';
import type { Violation } from '../../mmu/index.js';
import { hostOpts } from '../host-opts.js';
import { collectVm } from '../../diff/index.js';
import { isVmScenario } from '../../scenario/vm.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write, type Io } from '../io.js';
import { readInput } from '../../bits/input-file.js';
import { parseJson } from '../../bits/json-input.js';
import { printable } from '../../bits/quote.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'run a shadow-page scenario (JSON) or a guest (kvm-probe scenario) and print kvmmmu trace lines and the audit',
  usage: `usage: shadow-mmu run SCENARIO.json [--format text|jsonl|json]
       shadow-mmu run GUEST.kvm [--profile P] [--pvm] [--host H | --cpuinfo] [--format text|jsonl|json]

Runs the scenario's steps (load/free roots, get_page, link, drop, zap, set_cr3, ...; the format
is in README.md) and prints each step's kvmmmu events in the kernel's text format
("kvm_mmu_get_page: sp gen 0 gfn 10 l4 8-byte q0 wux nxe ad root 0 sync new"), the model's notes
as "#" lines, and the invariant audit at the end. The auditor runs after every step; the run
stops at the first violation and exits 1.

  --format jsonl   one JSON object per line: steps, events (full role words), journal patches,
                   then {"audit": ...}
  --no-journal     jsonl/json without the journal (no control-plane snapshot per step)
Output is streamed step by step: memory does not grow with the number of steps.
  --format json    the same records as one JSON array

A file that is not a JSON object is a guest scenario in kvm-probe's language
(shared/tools/kvm-probe/README.md: vm, map, pte, read/write/fetch at CPL 3 or 0, movcr0/3/4,
wrmsr, wrpkru, invlpg, sregs, hostwrite, translate, ...). The guest is laid out as the tool
lays it and runs on the model as KVM runs it: CPL-3 accesses through the shadow tables (shadow
page faults), CPL-0 instructions emulated. Each step prints a "# step" summary (exit,
exceptions, value), the kvmmmu lines it caused and the audit.

A JSON object with a "guest" key is a VM scenario (README.md): the fault path through the MMU
facade over a GUEST.json, on a shadow-paging, nested-NPT or nested-EPT host. Each step prints
a "# step" line (the operation and its outcome), the kvmmmu and walker lines it caused, and
the audit.

  --profile P      kernel profile for a guest or VM scenario (default: the VM scenario's own
                   "profile", else v6.18)
  --pvm            the recorded machine's limits (kvm_pvm): no 32-bit paging
  --host H         the host of a guest scenario: default (mmio_caching on), recorded (the
                   machine the real-KVM vectors came from: mmio_caching=N), or a JSON file of
                   host keys (vendor, cpu, mmio_caching, thp, nr_mmu_pages, la57); no-la57: a host
                   CPU without 5-level paging (a la57=1 guest's KVM_SET_SREGS fails EINVAL);
                   cpuinfo[:ROOT]: this machine (or a saved copy under ROOT) as /proc/cpuinfo
                   and /sys/module/kvm*/parameters describe it (vendor, MAXPHYADDR, la57,
                   mmio_caching, eager_zap_unsync_children, THP, kvm_pvm)
  --cpuinfo        the same as --host cpuinfo`,
  async run(argv, io) {
    const { values, positionals } = parse('run', argv, { profile: { type: 'string' }, pvm: { type: 'boolean', default: false }, host: { type: 'string' }, cpuinfo: { type: 'boolean', default: false }, 'no-journal': { type: 'boolean', default: false } });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = values.format;
    if (format !== 'text' && format !== 'jsonl' && format !== 'json') usageError('run', `--format must be text, jsonl or json, got ${JSON.stringify(format)}`);
    if (positionals.length !== 1) usageError('run', 'expected one SCENARIO file');
    const file = positionals[0]!;
    // A JSON op scenario is read in chunks (memory flat in the step count); any other file, or
    // one the chunked reader does not take (gzip, a syntax error: the usual error), whole.
    let streamed: StreamedScenario | null = null;
    try {
      streamed = scanScenarioFile(file);
    } catch (e) {
      if (!(e instanceof NotStreamable)) throw e;
    }
    if (streamed && !isVmScenario(streamed.header)) {
      if (values.host !== undefined || values.cpuinfo) usageError('run', HOST_ONLY_GUEST);
      if (values.profile !== undefined) usageError('run', PROFILE_NOT_OP);
      if (values.pvm) usageError('run', PVM_ONLY_GUEST);
      const sc = streamed.scenario(file);
      return runOps(sc, streamed.steps(sc.profile), format, values['no-journal'], io);
    }
    let text = readInput(file, 'run');
    if (isGuestScenario(text)) {
      const { facts, pvm, ...host } = hostOpts(values, 'run');
      const r = runGuestScenario(text, { profile: getProfile(values.profile ?? 'v6.18'), pvm: values.pvm || pvm === true, ...host });
      if (format === 'text') await write(io.stdout, (facts ?? []).map((f) => `# host: ${f}\n`).join('') + renderGuestText(r));
      else if (format === 'jsonl') await write(io.stdout, renderGuestJsonl(r));
      else await write(io.stdout, '[' + renderGuestJsonl(r).trimEnd().split('\n').join(',\n') + ']\n');
      return r.violations.length ? 1 : 0;
    }
    if (values.host !== undefined || values.cpuinfo) usageError('run', HOST_ONLY_GUEST);
    let json: unknown = parseJson(text, `run ${printable(file)}`);
    if (isVmScenario(json)) {
      if (values.pvm) usageError('run', PVM_ONLY_GUEST);
      const profile = getProfile(values.profile ?? (typeof (json as { profile?: unknown }).profile === 'string' ? (json as { profile: string }).profile : 'v6.18'));
      const r = collectVm(json, file, profile);
      const violations = r.steps.flatMap((s) => s.violations);
      if (format === 'text') {
        const out: string[] = [];
        for (const s of r.steps) {
          out.push(`# step ${s.step}: ${s.label} -> ${s.outcome}`, ...s.events.map((e) => e.text), ...s.violations.map((v) => `# audit: ${v}`));
        }
        out.push(violations.length ? `# audit: ${violations.length} violation(s)` : '# audit: ok after every step');
        await write(io.stdout, out.join('\n') + '\n');
      } else {
        const recs = r.steps.map((s) => JSON.stringify({ step: s.step, op: s.label, outcome: s.outcome, events: s.events.map((e) => e.text), violations: s.violations }));
        recs.push(JSON.stringify({ audit: violations.length ? violations : 'ok' }));
        await write(io.stdout, format === 'jsonl' ? recs.join('\n') + '\n' : '[' + recs.join(',\n') + ']\n');
      }
      return violations.length ? 1 : 0;
    }
    if (values.profile !== undefined) usageError('run', PROFILE_NOT_OP);
    if (values.pvm) usageError('run', PVM_ONLY_GUEST);
    const sc = parseScenario(json, file);
    // Let the input go: a 1e6-step file is ~200 MB as parsed JSON, more than the run needs.
    json = undefined;
    text = '';
    return runOps(sc, sc.steps, format, values['no-journal'], io);
  },
};

const HOST_ONLY_GUEST = '--host applies to guest (kvm-probe) scenarios, and so does --cpuinfo; a JSON scenario names its own "host"';
const PROFILE_NOT_OP = '--profile applies to guest and VM scenarios; a JSON op scenario names its own "profile"';
const PVM_ONLY_GUEST = '--pvm applies to guest (kvm-probe) scenarios only';

/**
 * A JSON op scenario's steps run and written as they run, then forgotten, so memory stays flat in
 * the step count; text output keeps no journal (no control-plane snapshot per step).
 */
async function runOps(sc: Scenario, steps: Iterable<Step>, format: string, noJournal: boolean, io: Io): Promise<number> {
  let buf = format === 'json' ? '[' : '';
  let first = true;
  let n = 0;
  let violations: Violation[] = [];
  // Awaited only when there is something to write: an await per step costs a microtask turn each.
  const FLUSH_AT = 1 << 16;
  const flush = async () => {
    await write(io.stdout, buf);
    buf = '';
  };
  for (const st of runScenarioSteps(sc, { journal: format !== 'text' && !noJournal }, steps)) {
    n++;
    violations = st.violations;
    if (format === 'text') buf += stepText(sc.profile, st);
    else {
      const recs = renderStepJsonl(st);
      if (format === 'jsonl') buf += recs.join('\n') + '\n';
      else {
        buf += (first ? '' : ',\n') + recs.join(',\n');
        first = false;
      }
    }
    if (buf.length > FLUSH_AT) await flush();
  }
  if (format === 'text') buf += renderAuditText(n, violations).join('\n') + '\n';
  else if (format === 'jsonl') buf += renderAuditJsonl(n, violations) + '\n';
  else buf += (first ? '' : ',\n') + renderAuditJsonl(n, violations) + ']\n';
  if (buf.length > 0) await flush();
  return violations.length ? 1 : 0;
}
