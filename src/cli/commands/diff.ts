/** `shadow-mmu diff SCENARIO --profile A --profile B...`: one scenario under several kernels, and exactly what differs. */
import { ShadowMmuError } from '../../bits/errors.js';
import { getProfile, loadPatchFile } from '../../profiles/index.js';
import { hostOpts } from '../host-opts.js';
import { diffJson, diffScenario, renderDot, renderHtml, renderText } from '../../diff/index.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write } from '../io.js';
import { quote } from '../../bits/quote.js';
import { printable } from '../../bits/quote.js';
import { checkJsonDepth } from '../../bits/json-input.js';
import { readInput } from '../../bits/input-file.js';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'run one scenario under several profiles (or a patch file) and show every difference: events, outcomes, state, final forest',
  usage: `usage: shadow-mmu diff SCENARIO --profile A --profile B [--profile C ...] [options]
       shadow-mmu diff SCENARIO --patch FILE [--profile A]

Runs SCENARIO (a guest in the kvm-probe language, or a JSON op scenario) once per profile,
with the auditor after every step, and compares each profile's run with the first's:
  - step by step, and inside a step event by event (a Myers alignment of the kvmmmu and walker
    events keyed on what carries meaning: event, gfn, level, role fields, created/existing,
    unsync, SPTE permission and flag bits; not pfns, host addresses or generations);
  - the step's outcome (exit, exceptions, value; or what the operation returned) and its state
    change (immer patches over the shadow-page forest and counters);
  - the final forest (pages by gfn + level + role, their links, unsync state, root counts, leaf
    SPTEs by meaning) and the counters.
Role fields are compared by name over the fields both layouts have; a field only one layout has
is shown as layout-only ("~" lines), not as a difference.

  --profile P      a profile: NAME, NAME+CHANGE..., NAME+./patch.json, or ./patch.json
  --patch FILE     a patch file: compares its base profile (or the first --profile) with and
                   without it
  --format F       text (default), json, dot (the final forests, Graphviz), html (one
                   self-contained report)
  -o, --output F   write the report to F instead of stdout
  --context N      event lines of context around a difference (default 3)
  --exact          also compare host-specific fields (pfn, SPTE addresses, generation)
  --no-color       no colour (colour is used only when stdout is a terminal)
  --pvm            guest scenarios: the recorded machine's limits (no 32-bit paging)
  --host H         guest scenarios: default, recorded (mmio_caching=N), cpuinfo[:ROOT] (this
                   machine's /proc/cpuinfo and KVM parameters) or a JSON host file
  --cpuinfo        the same as --host cpuinfo

Exit status: 0 the runs agree, 1 they differ, 2 bad input.`,
  async run(argv, io) {
    const { values, positionals } = parse('diff', argv, {
      profile: { type: 'string', multiple: true },
      patch: { type: 'string' },
      output: { type: 'string', short: 'o' },
      context: { type: 'string', default: '3' },
      exact: { type: 'boolean', default: false },
      'no-color': { type: 'boolean', default: false },
      pvm: { type: 'boolean', default: false },
      host: { type: 'string' },
      cpuinfo: { type: 'boolean', default: false },
    });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = values.format;
    if (format !== 'text' && format !== 'json' && format !== 'dot' && format !== 'html') usageError('diff', `--format must be text, json, dot or html, got ${quote(format)}`);
    if (positionals.length !== 1) usageError('diff', 'expected one SCENARIO file');
    if (!/^\d{1,3}$/.test(values.context)) usageError('diff', `--context must be a number of lines, got ${quote(values.context)}`);
    let specs = values.profile ?? [];
    if (values.patch !== undefined) {
      const f = loadPatchFile(values.patch);
      const base = specs[0] ?? f.base;
      if (!base) usageError('diff', `--patch ${values.patch} has no "base" profile: give --profile BASE`);
      if (specs.length > 1) usageError('diff', '--patch takes at most one --profile (the base)');
      specs = [base, `${base}+${values.patch}`];
    }
    if (specs.length < 2) usageError('diff', 'give at least two --profile options (or --patch FILE)');
    const profiles = specs.map((s) => getProfile(s));
    const file = positionals[0]!;
    const text = readInput(file, 'diff');
    if (text.trimStart().startsWith('{')) checkJsonDepth(text, `diff ${printable(file)}`);
    const { facts: _facts, pvm, ...host } = hostOpts(values, 'diff');
    const r = diffScenario(text, file, profiles, { pvm: values.pvm || pvm === true, exact: values.exact, ...host });
    const toFile = values.output !== undefined;
    const color = !toFile && !values['no-color'] && format === 'text' && (io.stdout as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined;
    let body: string;
    if (format === 'text') body = renderText(r.pairs, { color, context: Number(values.context), scenario: file });
    else if (format === 'json') body = JSON.stringify(diffJson(file, r.pairs), null, 1) + '\n';
    else if (format === 'dot') body = renderDot(r.runs, r.pairs);
    else body = renderHtml(file, r.runs, r.pairs);
    if (toFile) {
      const { writeFileSync } = await import('node:fs');
      try {
        writeFileSync(values.output!, body);
      } catch (e) {
        throw new ShadowMmuError('EINVAL_INPUT', `diff: cannot write ${values.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    } else await write(io.stdout, body);
    return r.differs ? 1 : 0;
  },
};
