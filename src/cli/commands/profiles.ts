/** `shadow-mmu profiles`: the shipped profiles, their composition and the named changes. */
import { CHANGES, PROFILE_DEFS, getProfile } from '../../profiles/index.js';
import { formatOf, parse } from '../args.js';
import type { Command } from '../command.js';
import { Out, write } from '../io.js';

export const profilesCommand: Command = {
  name: 'profiles',
  summary: 'list the kernel profiles and the named changes they are composed from',
  usage: `usage: shadow-mmu profiles [--format text|json]

A profile is a base profile plus named changes. Any profile can be extended on the command line
with more changes: --profile v6.18+CHANGE.`,
  async run(argv, io) {
    const { values } = parse('profiles', argv, {}, false);
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('profiles', values.format);
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
