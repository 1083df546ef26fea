/** `shadow-mmu trace decode|stat|diff`: kernel traces (tracefs, trace-cmd report, model output, the `fields` form) read and compared. */
import { ShadowMmuError } from '../../bits/errors.js';
import { getProfile, type Profile } from '../../profiles/index.js';
import { roleLayout } from '../../roles/layout.js';
import { formatFields } from '../../roles/format.js';
import { printedRole, roleFieldsOf } from '../../trace/decode.js';
import { readTrace, type TraceLine } from '../../trace/read.js';
import { renderStat, TraceStatCollector } from '../../trace/stat.js';
import { diffTraces, renderTraceDiff, traceDiffEvent, type TraceDiffEvent } from '../../trace/trace-diff.js';
import { PAGE_EVENTS } from '../../trace/table.js';
import { parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { checkStdin, write, type Io } from '../io.js';

const USAGE = `usage: shadow-mmu trace decode FILE [--profile P] [--format text|jsonl] [--strict]
       shadow-mmu trace stat FILE [--profile P] [--format text|json] [--strict]
       shadow-mmu trace diff A B [--profile P] [--profile-b P] [--exact] [--context N] [--format text|json] [--no-color] [--strict]

Reads kvmmmu (and guest-walker) events from a trace in any of the kernel's text forms: the tracefs
trace / trace_pipe line ("TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: BODY"), trace-cmd report lines
("TASK-PID [CPU] TIMESTAMP: EVENT: BODY"), bare "EVENT: BODY" lines (what shadow-mmu run prints),
and the tracefs "fields" option's raw form ("role=0x3704 (14084) unsync=(0)"). FILE may be gzip
(detected by its magic) or "-" for stdin; it is streamed. Header and comment lines are skipped;
events of other systems (kvm_exit...) are counted; a line that is no event of a known format is
reported on stderr with its line number (--strict: an error, exit 2).

  decode   every line, annotated: page events with their role fields (the text form's printed
           fields parsed back; the fields form's whole role word decoded with --profile's layout)
  stat     counts per event, shadow pages created / found per role, zaps by level and page state,
           unsync / sync, longest-lived and most-churned gfns, per task and per CPU
  diff     A and B aligned event by event (Myers, as shadow-mmu diff), keyed on meaning: pfns,
           SPTE host addresses, timestamps, pids and generations ignored unless --exact; exit 0
           the traces agree, 1 they differ, 2 bad input

  --profile P     the layout role words are decoded with (default v6.18); --profile-b for B`;

type EventLine = Extract<TraceLine, { kind: 'event' }>;

class BadLines {
  private n = 0;
  private readonly shown: string[] = [];
  constructor(private readonly file: string, private readonly strict: boolean) {}
  add(l: Extract<TraceLine, { kind: 'bad' }>): void {
    if (this.strict) throw new ShadowMmuError('EINVAL_INPUT', `trace: ${this.file} line ${l.line}: ${l.why}`);
    this.n++;
    if (this.shown.length < 10) this.shown.push(`shadow-mmu trace: ${this.file} line ${l.line}: ${l.why}`);
  }
  async report(io: Io): Promise<void> {
    if (!this.n) return;
    const more = this.n > this.shown.length ? [`shadow-mmu trace: ${this.file}: ${this.n - this.shown.length} more unreadable line(s)`] : [];
    await write(io.stderr, [...this.shown, ...more].join('\n') + '\n');
  }
}

const jsonVal = (v: bigint | number) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v);

function annotate(profile: Profile, l: EventLine): string {
  const r = roleFieldsOf(profile, l);
  if (r && l.form === 'fields') return `role ${printedRole(profile, l)}: ${formatFields(roleLayout(profile), Number(l.fields['role']) >>> 0)}`;
  if (r) return `role (as printed): ${Object.entries(r).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  return Object.entries(l.fields).map(([k, v]) => `${k}=${typeof v === 'bigint' ? '0x' + v.toString(16) : v}`).join(' ');
}

async function decode(file: string, profile: Profile, format: string, strict: boolean, io: Io): Promise<number> {
  const bad = new BadLines(file, strict);
  let buf = '';
  for await (const l of readTrace(file, io.stdin)) {
    if (l.kind === 'bad') bad.add(l);
    if (format === 'jsonl') {
      if (l.kind !== 'event') continue;
      const rec: Record<string, unknown> = { line: l.line, event: l.event, form: l.form };
      if (l.prefix) Object.assign(rec, { task: l.prefix.task, pid: l.prefix.pid, cpu: l.prefix.cpu, ts: l.prefix.ts });
      rec['fields'] = Object.fromEntries(Object.entries(l.fields).filter(([k]) => !k.startsWith('role_text.')).map(([k, v]) => [k, jsonVal(v)]));
      const role = roleFieldsOf(profile, l);
      if (role) rec['role'] = role;
      if (PAGE_EVENTS.has(l.event)) rec['role_text'] = printedRole(profile, l);
      buf += JSON.stringify(rec) + '\n';
    } else {
      buf += l.kind === 'event' ? `${l.line}: ${l.event}: ${l.body}\n    # ${annotate(profile, l)}\n` : l.kind === 'other' ? `${l.line}: (${l.event}: not a kvmmmu event)\n` : l.kind === 'bad' ? `${l.line}: # unreadable: ${l.why}\n` : '';
    }
    if (buf.length > 1 << 16) {
      await write(io.stdout, buf);
      buf = '';
    }
  }
  if (buf) await write(io.stdout, buf);
  await bad.report(io);
  return 0;
}

async function stat(file: string, profile: Profile, format: string, strict: boolean, io: Io): Promise<number> {
  const bad = new BadLines(file, strict);
  const c = new TraceStatCollector(profile);
  for await (const l of readTrace(file, io.stdin)) {
    if (l.kind === 'bad') bad.add(l);
    c.add(l);
  }
  const s = c.result();
  await write(io.stdout, format === 'json' ? JSON.stringify({ file, ...s }, null, 1) + '\n' : renderStat(file, s));
  await bad.report(io);
  return 0;
}

async function events(file: string, profile: Profile, exact: boolean, strict: boolean, io: Io): Promise<TraceDiffEvent[]> {
  const bad = new BadLines(file, strict);
  const out: TraceDiffEvent[] = [];
  for await (const l of readTrace(file, io.stdin)) {
    if (l.kind === 'bad') bad.add(l);
    else if (l.kind === 'event') out.push(traceDiffEvent(profile, l, exact));
  }
  await bad.report(io);
  return out;
}

export const traceCommand: Command = {
  name: 'trace',
  summary: 'read kernel traces (tracefs, trace-cmd report, fields form, model output): decode roles, statistics, diff two traces',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse('trace', argv, {
      profile: { type: 'string', default: 'v6.18' },
      'profile-b': { type: 'string' },
      strict: { type: 'boolean', default: false },
      exact: { type: 'boolean', default: false },
      context: { type: 'string', default: '3' },
      'no-color': { type: 'boolean', default: false },
    });
    if (values.help) {
      await write(io.stdout, USAGE + '\n');
      return 0;
    }
    const [sub, ...files] = positionals;
    if (files.includes('-')) checkStdin(io, 'trace');
    const profile = getProfile(values.profile);
    const fmt = values.format;
    if (sub === 'decode' || sub === 'stat') {
      if (files.length !== 1) usageError('trace', `${sub} takes one FILE (or - for stdin)`);
      const allowed = sub === 'decode' ? ['text', 'jsonl'] : ['text', 'json'];
      if (!allowed.includes(fmt)) usageError('trace', `${sub}: --format must be ${allowed.join(' or ')}, got ${JSON.stringify(fmt)}`);
      return sub === 'decode' ? decode(files[0]!, profile, fmt, values.strict, io) : stat(files[0]!, profile, fmt, values.strict, io);
    }
    if (sub === 'diff') {
      if (files.length !== 2) usageError('trace', 'diff takes two files A B');
      if (files[0] === '-' && files[1] === '-') usageError('trace', 'diff: only one of A and B can be stdin');
      if (fmt !== 'text' && fmt !== 'json') usageError('trace', `diff: --format must be text or json, got ${JSON.stringify(fmt)}`);
      if (!/^\d{1,3}$/.test(values.context)) usageError('trace', `--context must be a number of lines, got ${JSON.stringify(values.context)}`);
      const pb = values['profile-b'] !== undefined ? getProfile(values['profile-b']) : profile;
      const a = await events(files[0]!, profile, values.exact, values.strict, io);
      const b = await events(files[1]!, pb, values.exact, values.strict, io);
      const r = diffTraces(a, b, Number(values.context));
      const color = fmt === 'text' && !values['no-color'] && (io.stdout as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined;
      await write(io.stdout, fmt === 'json' ? JSON.stringify({ a: files[0], b: files[1], ...r }, null, 1) + '\n' : renderTraceDiff(files[0]!, files[1]!, r, color));
      return r.differs ? 1 : 0;
    }
    usageError('trace', sub === undefined ? 'expected decode, stat or diff' : `unknown subcommand ${JSON.stringify(sub)} (expected decode, stat or diff)`);
  },
};
