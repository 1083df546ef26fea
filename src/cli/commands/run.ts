/** `shadow-mmu run SCENARIO`: drive the shadow-page model from a JSON scenario. */
import { readFileSync } from 'node:fs';
import { ShadowMmuError } from '../../bits/errors.js';
import { parseScenario, renderJsonl, renderText, runScenario } from '../../scenario/index.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { write } from '../io.js';

export const runCommand: Command = {
  name: 'run',
  summary: 'run a shadow-page scenario (JSON) and print kvmmmu trace lines and the audit',
  usage: `usage: shadow-mmu run SCENARIO.json [--format text|jsonl|json]

Runs the scenario's steps (load/free roots, get_page, link, drop, zap, set_cr3, ...; the format
is in README.md) and prints each step's kvmmmu events in the kernel's text format
("kvm_mmu_get_page: sp gen 0 gfn 10 l4 8-byte q0 wux nxe ad root 0 sync new"), the model's notes
as "#" lines, and the invariant audit at the end. The auditor runs after every step; the run
stops at the first violation and exits 1.

  --format jsonl   one JSON object per line: steps, events (full role words), journal patches,
                   then {"audit": ...}
  --format json    the same records as one JSON array`,
  async run(argv, io) {
    const { values, positionals } = parse('run', argv, {});
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = values.format;
    if (format !== 'text' && format !== 'jsonl' && format !== 'json') usageError('run', `--format must be text, jsonl or json, got ${JSON.stringify(format)}`);
    if (positionals.length !== 1) usageError('run', 'expected one SCENARIO file');
    const file = positionals[0]!;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ShadowMmuError('EINVAL_INPUT', `run: cannot read ${file}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ShadowMmuError('EINVAL_INPUT', `run: ${file} is not JSON: ${(e as Error).message}`);
    }
    const sc = parseScenario(json, file);
    const r = runScenario(sc);
    if (format === 'text') await write(io.stdout, renderText(sc.profile, r));
    else if (format === 'jsonl') await write(io.stdout, renderJsonl(r));
    else await write(io.stdout, '[' + renderJsonl(r).trimEnd().split('\n').join(',\n') + ']\n');
    return r.violations.length ? 1 : 0;
  },
};
