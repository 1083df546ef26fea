/** `shadow-mmu eval`: batch evaluation of oracle records, streaming stdin to stdout. */
import { evalFnNames, evalKindNames, evaluateLine } from '../../eval/index.js';
import { formatOf, parse, usageError } from '../args.js';
import { stdinLines } from '../stdin-lines.js';
import { runEvalCheck } from '../eval-check.js';
import type { Command } from '../command.js';
import { checkStdin, write } from '../io.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate oracle records (JSON Lines on stdin) and write them back with "out"',
  usage: `usage: shadow-mmu eval [--list]
       shadow-mmu eval --check FILE...

Reads one JSON object per line from stdin and writes one line per input, in order:
  {"profile","fn","in"}           -> the same object with "out" filled (golden/roles, spte, cpu)
  {"kind":...,"id"} / access recs -> {"id","out"} (golden/kvm, golden/access)
A line that cannot be evaluated gets "error" in place of "out"; the other lines still run and
the exit code is 1 at the end. Blank lines are skipped.

  --list    print the fns and record kinds eval knows, one per line
  --check   FILE... are oracle files (JSON Lines, plain or .gz: role/SPTE/CPU vectors with "out",
            access.c records with "expect", real-KVM walk/root_role/root_transition/
            write_tracking records): each record's expected fields are compared with the
            model's; prints "FILE: N/M records match" and the first differing field of each
            mismatch; exit 1 on any mismatch`,
  async run(argv, io) {
    const { values, positionals } = parse('eval', argv, { list: { type: 'boolean', default: false }, check: { type: 'boolean', default: false } });
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    if (values.check) {
      if (positionals.length === 0) usageError('eval', '--check needs at least one FILE');
      return runEvalCheck(positionals, io);
    }
    if (positionals.length) usageError('eval', `unexpected argument ${JSON.stringify(positionals[0])} (files are read with --check)`);
    formatOf('eval', values.format); // the output is JSON Lines either way; a bad value is still an error
    if (values.list) {
      const lines = [...evalFnNames().map((f) => `fn ${f}`), ...evalKindNames().map((k) => `kind ${k}`)];
      await write(io.stdout, lines.join('\n') + (lines.length ? '\n' : ''));
      return 0;
    }
    checkStdin(io, 'eval');
    let failed = 0;
    let buf = '';
    for await (const { n, text: raw } of stdinLines(io.stdin, 'eval: stdin')) {
      if (raw.trim() === '') continue;
      const { ok, line } = evaluateLine(raw, `line ${n}`);
      if (!ok) failed++;
      buf += line + '\n';
      if (buf.length > 1 << 16) {
        await write(io.stdout, buf);
        buf = '';
      }
    }
    if (buf) await write(io.stdout, buf);
    if (failed) {
      await write(io.stderr, `shadow-mmu eval: ${failed} record(s) could not be evaluated\n`);
      return 1;
    }
    return 0;
  },
};
