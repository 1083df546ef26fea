/**
 * `trace stat`: what a reviewer asks of a trace, the way `perf kvm stat` answers for exits —
 * counts per event, shadow pages created and found per level and role, zaps by the state of the
 * page zapped, unsync/sync counts, the gfns that lived longest and churned most, per task and CPU.
 * One pass, memory bounded by the number of distinct pages.
 */
import type { Profile } from '../profiles/index.js';
import { printedRole } from './decode.js';
import type { TraceLine } from './read.js';
import { KVMMMU } from './table.js';

interface PageLife {
  created: number;
  zaps: number;
  creates: number;
  /** Position (timestamp, else line) of the last creation still alive; NaN when not alive. */
  since: number;
  lived: number;
}

export interface TraceStat {
  lines: number;
  events: Record<string, number>;
  other_events: Record<string, number>;
  bad_lines: number;
  skipped_lines: number;
  forms: Record<string, number>;
  get_page: Record<string, { created: number; existing: number }>;
  zaps: { total: number; by_level: Record<string, number>; by_state: Record<string, number> };
  unsync: number;
  sync: number;
  zap_all_fast: number;
  gfns_zapped_more_than_once: number;
  longest_lived: { gfn: string; role: string; lived: number; alive_at_end: boolean }[];
  most_churned: { gfn: string; creates: number; zaps: number }[];
  per_task: Record<string, number>;
  per_cpu: Record<string, number>;
  /** What `lived` is measured in: seconds when every event had a timestamp, else lines. */
  time_unit: 'seconds' | 'lines';
}

const inc = (o: Record<string, number>, k: string, n = 1) => (o[k] = (o[k] ?? 0) + n);

export class TraceStatCollector {
  private readonly s: TraceStat = {
    lines: 0, events: {}, other_events: {}, bad_lines: 0, skipped_lines: 0, forms: {}, get_page: {},
    zaps: { total: 0, by_level: {}, by_state: {} }, unsync: 0, sync: 0, zap_all_fast: 0, gfns_zapped_more_than_once: 0,
    longest_lived: [], most_churned: [], per_task: {}, per_cpu: {}, time_unit: 'seconds',
  };
  private readonly pages = new Map<string, PageLife>();
  private readonly gfnChurn = new Map<string, { creates: number; zaps: number }>();
  private untimed = false;
  private last = 0;

  constructor(private readonly profile: Profile) {}

  add(l: TraceLine): void {
    this.s.lines = Math.max(this.s.lines, l.line);
    if (l.kind === 'skip') {
      this.s.skipped_lines++;
      return;
    }
    if (l.kind === 'bad') {
      this.s.bad_lines++;
      return;
    }
    if (l.kind === 'other') {
      inc(this.s.other_events, l.event);
      return;
    }
    inc(this.s.events, l.event);
    inc(this.s.forms, l.form);
    if (l.prefix) {
      inc(this.s.per_task, `${l.prefix.task}-${l.prefix.pid}`);
      inc(this.s.per_cpu, String(l.prefix.cpu));
    } else this.untimed = true;
    const at = l.prefix ? l.prefix.ts : l.line;
    this.last = at;
    const f = l.fields;
    if (l.event === KVMMMU.kvm_mmu_unsync_page) this.s.unsync++;
    else if (l.event === KVMMMU.kvm_mmu_sync_page) this.s.sync++;
    else if (l.event === KVMMMU.kvm_mmu_zap_all_fast) this.s.zap_all_fast++;
    if (l.event !== KVMMMU.kvm_mmu_get_page && l.event !== KVMMMU.kvm_mmu_prepare_zap_page) return;
    const role = printedRole(this.profile, l)!;
    const gfn = (f['gfn'] as bigint).toString(16);
    const key = `${gfn} ${l.form === 'fields' ? 'role ' + (Number(f['role']) >>> 0).toString(16) : role}`;
    let p = this.pages.get(key);
    if (!p) this.pages.set(key, (p = { created: 0, zaps: 0, creates: 0, since: Number.NaN, lived: 0 }));
    let c = this.gfnChurn.get(gfn);
    if (!c) this.gfnChurn.set(gfn, (c = { creates: 0, zaps: 0 }));
    if (l.event === KVMMMU.kvm_mmu_get_page) {
      const g = (this.s.get_page[role] ??= { created: 0, existing: 0 });
      if (f['created']) {
        g.created++;
        p.creates++;
        c.creates++;
        p.since = at;
      } else g.existing++;
      return;
    }
    this.s.zaps.total++;
    inc(this.s.zaps.by_level, `l${role.slice(1, role.indexOf(' '))}`);
    const state = / invalid/.test(role) ? 'invalid (obsolete root freed)' : Number(f['root_count']) > 0 ? 'in use as a root' : f['unsync'] ? 'unsync' : 'sync, not a root';
    inc(this.s.zaps.by_state, state);
    p.zaps++;
    c.zaps++;
    if (!Number.isNaN(p.since)) {
      p.lived = Math.max(p.lived, at - p.since);
      p.since = Number.NaN;
    }
  }

  result(): TraceStat {
    const s = structuredClone(this.s);
    s.time_unit = this.untimed ? 'lines' : 'seconds';
    const lives = [...this.pages].map(([k, p]) => {
      const alive = !Number.isNaN(p.since);
      const [gfn, ...role] = k.split(' ');
      return { gfn: gfn!, role: role.join(' '), lived: +(alive ? Math.max(p.lived, this.last - p.since) : p.lived).toFixed(6), alive_at_end: alive };
    });
    const byGfn = (a: { gfn: string }, b: { gfn: string }) => (a.gfn < b.gfn ? -1 : a.gfn > b.gfn ? 1 : 0);
    s.longest_lived = lives.sort((a, b) => b.lived - a.lived || byGfn(a, b)).slice(0, 5);
    s.most_churned = [...this.gfnChurn].map(([gfn, c]) => ({ gfn, ...c })).sort((a, b) => b.creates + b.zaps - (a.creates + a.zaps) || byGfn(a, b)).slice(0, 5);
    s.gfns_zapped_more_than_once = [...this.gfnChurn.values()].filter((c) => c.zaps > 1).length;
    return s;
  }
}

/** The statistics as a text table. */
export function renderStat(file: string, s: TraceStat): string {
  const o: string[] = [`${file}: ${s.lines} lines, ${Object.values(s.events).reduce((a, b) => a + b, 0)} kvmmmu events (${Object.entries(s.forms).map(([k, v]) => `${v} ${k} form`).join(', ') || 'none'}), ${s.bad_lines} unreadable, ${Object.values(s.other_events).reduce((a, b) => a + b, 0)} other events`];
  const table = (title: string, rows: [string, string | number][]) => {
    if (!rows.length) return;
    o.push('', title);
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) o.push(`  ${k.padEnd(w)}  ${String(v).padStart(8)}`);
  };
  table('events', Object.entries(s.events).sort());
  table('shadow pages by role (created / found existing)', Object.entries(s.get_page).sort().map(([k, v]) => [k, `${v.created} / ${v.existing}`]));
  table(`zaps: ${s.zaps.total} (${KVMMMU.kvm_mmu_zap_all_fast}: ${s.zap_all_fast})`, [...Object.entries(s.zaps.by_level).sort(), ...Object.entries(s.zaps.by_state).sort()]);
  table('unsync / sync', [[KVMMMU.kvm_mmu_unsync_page, s.unsync], [KVMMMU.kvm_mmu_sync_page, s.sync], ['gfns zapped more than once', s.gfns_zapped_more_than_once]]);
  table(`longest-lived pages (${s.time_unit})`, s.longest_lived.map((p) => [`gfn ${p.gfn} ${p.role}${p.alive_at_end ? ' (alive at end)' : ''}`, p.lived]));
  table('most-churned gfns (created + zapped)', s.most_churned.map((c) => [`gfn ${c.gfn}`, `${c.creates} + ${c.zaps}`]));
  table('per task', Object.entries(s.per_task).sort());
  table('per CPU', Object.entries(s.per_cpu).sort());
  table('other events', Object.entries(s.other_events).sort());
  return o.join('\n') + '\n';
}
