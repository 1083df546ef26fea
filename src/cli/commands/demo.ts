/** `shadow-mmu demo`: the built-in demonstration that `npm start` runs. */
import { ShadowMmuError } from '../../bits/errors.js';
import { DEMO_SECTIONS } from '../../demo/index.js';
import { formatOf, parse } from '../args.js';
import type { Command } from '../command.js';
import { Out, write } from '../io.js';
import { quote } from '../../bits/quote.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the built-in demonstration (what `npm start` shows)',
  usage: `usage: shadow-mmu demo [--section ID] [--format text|json] [--report FILE]

  --report FILE   where the review section writes its HTML diff report
                  (default: shadow-mmu-rfc-pse-slip.html in the system's temporary directory)

Sections: ${DEMO_SECTIONS.map((s) => s.id).join(', ') || '(none yet)'}`,
  async run(argv, io) {
    const { values } = parse('demo', argv, { section: { type: 'string', multiple: true }, report: { type: 'string' } }, false);
    if (values.help) {
      await write(io.stdout, this.usage + '\n');
      return 0;
    }
    const format = formatOf('demo', values.format);
    const wanted = values.section;
    for (const w of wanted ?? []) {
      if (!DEMO_SECTIONS.some((s) => s.id === w)) {
        throw new ShadowMmuError('EUSAGE', `demo: unknown section ${quote(w)}`);
      }
    }
    const sections = DEMO_SECTIONS.filter((s) => !wanted || wanted.includes(s.id));
    const results = sections.map((s) => ({ s, r: s.run({ report: values.report }) }));
    if (format === 'json') {
      await write(
        io.stdout,
        JSON.stringify(
          results.map(({ s, r }) => ({ id: s.id, title: s.title, result: r.json })),
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    const o = new Out();
    for (const { s, r } of results) {
      o.line(`== ${s.title} ==`);
      o.line('');
      o.line(r.text.trimEnd());
      o.line('');
    }
    await write(io.stdout, o.text());
    return 0;
  },
};
