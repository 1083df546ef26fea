/** `shadow-mmu profiles`: the shipped profiles, their composition and the named changes. */
import { CHANGES, PROFILE_DEFS, getProfile, traitSchema, traitValue, type Profile } from '../../profiles/index.js';
import { formatOf, parse, usageError } from '../args.js';
import type { Command } from '../command.js';
import { Out, write } from '../io.js';

export const profilesCommand: Command = {
  name: 'profiles',
  summary: 'list the kernel profiles and the named changes they are composed from',
  usage: `usage: shadow-mmu profiles [--format text|json]
       shadow-mmu profiles --traits [--profile P]... [--format text|json]

A profile is a base profile plus named changes. Any profile can be extended on the command line
with more changes: --profile v6.18+CHANGE, or with a patch file: --profile v6.18+./my-patch.json.

  --traits      every trait a patch file can set: its domain, type, allowed values, and its value
                in each shipped profile (or in each --profile given)`,
  async run(argv, io) {
    const { values } = parse('profiles', argv, { traits: { type: 'boolean', default: false }, profile: { type: 'string', multiple: true } }, false);
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('profiles', values.format);
    if (values.profile && !values.traits) usageError('profiles', '--profile goes with --traits');
    if (values.traits) {
      const profs = (values.profile ?? PROFILE_DEFS.map((d) => d.name)).map((n) => getProfile(n));
      await write(io.stdout, traitsReport(profs, format));
      return 0;
    }
    const profiles = PROFILE_DEFS.map((d) => ({
      name: d.name,
      title: d.title,
      source: d.source,
      base: d.base,
      changes: d.changes,
      all_changes: getProfile(d.name).changes,
    }));
    if (format === 'json') {
      await write(io.stdout, JSON.stringify({ profiles, changes: CHANGES }, null, 2) + '\n');
      return 0;
    }
    const o = new Out();
    o.line('profiles:');
    for (const p of profiles) {
      o.line(`  ${p.name.padEnd(11)} ${p.title}`);
      o.line(`  ${''.padEnd(11)} = ${p.base ?? '(root)'}${p.changes.map((c) => ' + ' + c).join('')}`);
      o.line(`  ${''.padEnd(11)} source: ${p.source}`);
    }
    o.line('');
    o.line('changes:');
    for (const [name, c] of Object.entries(CHANGES)) {
      o.line(`  ${name}`);
      o.line(`      ${c.summary}`);
      o.line(`      source: ${c.source}`);
    }
    await write(io.stdout, o.text());
    return 0;
  },
};

/** A trait value on one line: tuples as `name:width`, objects as JSON. */
function compact(v: unknown): string {
  if (v === undefined) return '(absent)';
  if (Array.isArray(v)) {
    return '[' + v.map((e) => (Array.isArray(e) ? e.map((x) => (x === null ? '_' : String(x))).join(':') : typeof e === 'number' ? '0x' + e.toString(16) : JSON.stringify(e))).join(' ') + ']';
  }
  if (typeof v === 'number') return v > 9 ? `${v} (0x${v.toString(16)})` : String(v);
  return JSON.stringify(v);
}

function traitsReport(profs: readonly Profile[], format: 'text' | 'json'): string {
  const rows = traitSchema().map((t) => ({
    trait: `${t.domain}.${t.path}`,
    domain: t.domain,
    path: t.path,
    type: t.kinds.join('|'),
    values: t.values,
    element: t.element,
    by_profile: Object.fromEntries(profs.map((p) => [p.name, traitValue((p as unknown as Record<string, unknown>)[t.domain], t.path) ?? null])),
  }));
  if (format === 'json') return JSON.stringify({ profiles: profs.map((p) => p.name), traits: rows }, null, 2) + '\n';
  const o = new Out();
  o.line(`${rows.length} traits; a patch file sets any of them: {"name", "base", "traits": {DOMAIN: {TRAIT: VALUE}}}`);
  const w = Math.max(...profs.map((p) => p.name.length));
  let domain = '';
  for (const r of rows) {
    if (r.domain !== domain) {
      domain = r.domain;
      o.line('');
      o.line(`[${domain}]`);
    }
    const type = r.values ? `${r.type}: ${r.values.join(' | ')}` : r.element ? `${r.type} of ${r.element}` : r.type;
    o.line(`  ${r.path}  (${type})`);
    const vals = profs.map((p) => compact(traitValue((p as unknown as Record<string, unknown>)[r.domain], r.path)));
    const same = vals.every((v) => v === vals[0]);
    if (same) o.line(`      ${'all'.padEnd(w)}  ${vals[0]}`);
    else profs.forEach((p, i) => o.line(`      ${p.name.padEnd(w)}  ${vals[i]}`));
  }
  return o.text();
}
