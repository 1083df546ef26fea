/**
 * Comparing two runs of one scenario: steps aligned by position, events inside a step aligned
 * with Myers on their meaning (../trace/align.ts), role fields compared by name over the fields
 * both layouts have (a field only one layout has is marked layout-only, never a difference),
 * each step's state change as immer patches over a meaning-keyed forest, and the final forest
 * and counters.
 */
import { ACCESS_STR } from '../roles/format.js';
import { enablePatches, produceWithPatches, type Patch } from 'immer';
import { alignSequences } from '../trace/align.js';
import { roleLayout } from '../roles/layout.js';
import type { Profile } from '../profiles/index.js';
import type { DiffEvent, DiffRun, DiffStep, NodeState, StateSnap } from './model.js';

enablePatches();

export interface CompareOptions {
  /** Also compare host-specific fields (pfn, SPTE addresses, generation). */
  readonly exact?: boolean;
}

export type EventLine =
  | { readonly op: 'same'; readonly a: DiffEvent; readonly b: DiffEvent; readonly layoutOnly: readonly string[] }
  | { readonly op: 'del'; readonly a: DiffEvent }
  | { readonly op: 'ins'; readonly b: DiffEvent };

export interface StepDiff {
  readonly vm: number;
  readonly step: number;
  readonly label: string;
  /** null when the step did not run in that profile (the run stopped earlier). */
  readonly outcomeA: string | null;
  readonly outcomeB: string | null;
  readonly lines: readonly EventLine[];
  /** The step's state change in each profile (immer patches, as text). */
  readonly changesA: readonly string[];
  readonly changesB: readonly string[];
  readonly violationsA: readonly string[];
  readonly violationsB: readonly string[];
  readonly onlyA: number;
  readonly onlyB: number;
  readonly differs: boolean;
}

export interface NodeDesc {
  readonly key: string;
  readonly gfn: number;
  readonly level: number;
  readonly roleA: string | null;
  readonly roleB: string | null;
  readonly text: string;
}

export interface ForestDiff {
  readonly vm: number;
  readonly name: string;
  readonly onlyA: readonly NodeDesc[];
  readonly onlyB: readonly NodeDesc[];
  readonly changed: readonly { readonly key: string; readonly field: string; readonly a: string; readonly b: string }[];
  readonly same: number;
}

export interface PairDiff {
  readonly a: string;
  readonly b: string;
  /** Role fields both layouts have (the ones compared), and those only one has. */
  readonly commonFields: readonly string[];
  readonly layoutOnlyFields: readonly string[];
  readonly steps: readonly StepDiff[];
  readonly forests: readonly ForestDiff[];
  readonly counters: readonly { readonly vm: number; readonly name: string; readonly a: number | null; readonly b: number | null }[];
  readonly summary: {
    readonly steps: number;
    readonly stepsDiffer: number;
    readonly eventsOnlyA: number;
    readonly eventsOnlyB: number;
    readonly layoutOnlyEvents: number;
    readonly forestDiffers: number;
    readonly countersDiffer: number;
    readonly firstDivergence: { readonly vm: number; readonly step: number; readonly label: string; readonly what: string } | null;
  };
  readonly differs: boolean;
}

function fieldNames(p: Profile): string[] {
  return roleLayout(p).fields.map((f) => f.name).filter((n) => n !== 'level');
}

/**
 * The role fields both layouts have, compactly: `q<quadrant> <access>` then every other field
 * that is set (`name` for 1, `name=v` otherwise), in name order.
 */
export function roleKey(fields: Readonly<Record<string, number>> | null, common: ReadonlySet<string>): string {
  if (!fields) return '';
  const parts: string[] = [];
  if (common.has('quadrant')) parts.push(`q${fields['quadrant'] ?? 0}`);
  if (common.has('access')) parts.push(ACCESS_STR[fields['access'] ?? 0]!);
  for (const k of Object.keys(fields).sort()) {
    if (k === 'quadrant' || k === 'access' || !common.has(k) || !fields[k]) continue;
    parts.push(fields[k] === 1 ? k : `${k}=${fields[k]}`);
  }
  return parts.join(' ');
}

function eventKey(e: DiffEvent, common: ReadonlySet<string>, exact: boolean): string {
  return `${e.event}|${e.gfn ?? ''}|${e.level ?? ''}|${roleKey(e.fields, common)}|${e.rest}${exact ? '|' + e.host : ''}`;
}

/** The role an event line carries, for display beside the kernel's text (which omits most fields). */
export function eventRole(e: DiffEvent, common: ReadonlySet<string>): string {
  return e.fields ? roleKey(e.fields, common) : '';
}

function layoutOnlyDiff(a: DiffEvent, b: DiffEvent, common: ReadonlySet<string>): string[] {
  if (!a.fields || !b.fields) return [];
  const names = new Set([...Object.keys(a.fields), ...Object.keys(b.fields)]);
  // A field one layout lacks reads as 0 there: only a set field is a (layout-only) difference.
  return [...names].filter((n) => !common.has(n) && (a.fields![n] ?? 0) !== (b.fields![n] ?? 0)).sort();
}

/** A forest node's identity across profiles: gfn, level and the role fields both layouts have. */
export function nodeKey(n: NodeState, common: ReadonlySet<string>): string {
  return `gfn ${n.gfn.toString(16)} l${n.level} ${roleKey(n.fields, common)}`;
}

/** Keys for a node list; a second page with the same gfn and role (5.16's rebuild) gets `#2`. */
function keyed(nodes: readonly NodeState[], common: ReadonlySet<string>): string[] {
  const seen = new Map<string, number>();
  return nodes.map((n) => {
    const k = nodeKey(n, common);
    const c = (seen.get(k) ?? 0) + 1;
    seen.set(k, c);
    return c === 1 ? k : `${k} #${c}`;
  });
}

type Plane = { pages: Record<string, Record<string, unknown>>; counters: Record<string, number> };

function plane(s: StateSnap, common: ReadonlySet<string>): Plane {
  const keys = keyed(s.nodes, common);
  const pages: Record<string, Record<string, unknown>> = {};
  s.nodes.forEach((n, i) => {
    pages[keys[i]!] = { root_count: n.root_count, unsync: n.unsync, unsync_children: n.unsync_children, parents: n.parents };
  });
  return { pages, counters: { ...s.counters } };
}

/** A patch as text; a counter's replacement as its increment, so runs that diverged earlier do not differ on every later step. */
function patchText(p: Patch, prevCounters: Readonly<Record<string, number>>): string {
  const path = p.path.join('/');
  if (p.op === 'remove') return `remove ${path}`;
  if (p.path[0] === 'counters' && typeof p.value === 'number') {
    const d = p.value - (prevCounters[String(p.path[1])] ?? 0);
    return `${path} ${d >= 0 ? '+' : ''}${d}`;
  }
  const v = p.value as unknown;
  const val = v && typeof v === 'object' ? Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`).join(' ') : String(v);
  return `${p.op} ${path} = ${val}`;
}

/** The journal of a run over meaning-keyed state: per step, the immer patches as text. */
function journal(run: DiffRun, common: ReadonlySet<string>): string[][] {
  const out: string[][] = [];
  let vm = -1;
  let state: Plane = { pages: {}, counters: {} };
  for (const s of run.steps) {
    if (s.vm !== vm) {
      vm = s.vm;
      state = plane(run.vms[vm]?.before ?? { nodes: [], counters: {} }, common);
    }
    const next = plane(s.after, common);
    const prev = state.counters;
    const [st, patches] = produceWithPatches(state, (d) => {
      for (const k of Object.keys(d.pages)) if (!(k in next.pages)) delete d.pages[k];
      for (const [k, v] of Object.entries(next.pages)) {
        const cur = d.pages[k];
        if (!cur) d.pages[k] = v;
        else for (const [f, x] of Object.entries(v)) if (cur[f] !== x) cur[f] = x;
      }
      for (const [k, v] of Object.entries(next.counters)) if (d.counters[k] !== v) d.counters[k] = v;
    });
    state = st;
    out.push(patches.map((p) => patchText(p, prev)));
  }
  return out;
}

function diffSets(a: readonly string[], b: readonly string[]): { onlyA: string[]; onlyB: string[] } {
  const sb = new Set(b);
  const sa = new Set(a);
  return { onlyA: a.filter((x) => !sb.has(x)), onlyB: b.filter((x) => !sa.has(x)) };
}

function nodeAttrs(n: NodeState, keys: readonly string[]): Record<string, string> {
  return {
    unsync: String(n.unsync),
    unsync_children: String(n.unsync_children),
    root_count: String(n.root_count),
    parents: String(n.parents),
    links: n.links.map((l) => `${l.index}->${keys[l.child]}`).join('; '),
    leaves: n.leaves.map((l) => `${l.index}->gfn ${l.gfn.toString(16)} ${l.flags}`).join('; '),
  };
}

function compareForest(vm: number, name: string, a: StateSnap, b: StateSnap, common: ReadonlySet<string>): ForestDiff {
  const ka = keyed(a.nodes, common);
  const kb = keyed(b.nodes, common);
  const mb = new Map(kb.map((k, i) => [k, i]));
  const ma = new Map(ka.map((k, i) => [k, i]));
  const desc = (n: NodeState, key: string, side: 'a' | 'b'): NodeDesc => ({ key, gfn: n.gfn, level: n.level, roleA: side === 'a' ? n.roleText : null, roleB: side === 'b' ? n.roleText : null, text: `${key} (${n.roleText}) root ${n.root_count}${n.unsync ? ' unsync' : ''}` });
  const onlyA: NodeDesc[] = [];
  const onlyB: NodeDesc[] = [];
  const changed: { key: string; field: string; a: string; b: string }[] = [];
  let same = 0;
  a.nodes.forEach((n, i) => {
    const j = mb.get(ka[i]!);
    if (j === undefined) {
      onlyA.push(desc(n, ka[i]!, 'a'));
      return;
    }
    const x = nodeAttrs(n, ka);
    const y = nodeAttrs(b.nodes[j]!, kb);
    let differs = false;
    for (const f of Object.keys(x)) {
      if (x[f] !== y[f]) {
        changed.push({ key: ka[i]!, field: f, a: x[f]!, b: y[f]! });
        differs = true;
      }
    }
    if (!differs) same++;
  });
  b.nodes.forEach((n, j) => {
    if (!ma.has(kb[j]!)) onlyB.push(desc(n, kb[j]!, 'b'));
  });
  return { vm, name, onlyA, onlyB, changed, same };
}

/** An outcome with the role-field names only one layout has taken out (decoded roles print `{...}`). */
function stripLayout(o: string | null, fields: readonly string[]): string | null {
  if (o === null || !fields.length) return o;
  return o.replace(/\{([^}]*)\}/g, (_m, inner: string) => '{' + inner.split(' ').filter((t) => !fields.includes(t.split('=')[0]!)).join(' ') + '}');
}

/** Compare run B against run A. */
export function compareRuns(A: DiffRun, B: DiffRun, opts: CompareOptions = {}): PairDiff {
  const fa = fieldNames(A.profile);
  const fb = new Set(fieldNames(B.profile));
  const common = new Set(fa.filter((f) => fb.has(f)));
  const layoutOnlyFields = [...new Set([...fa, ...fb])].filter((f) => !common.has(f)).sort();
  const exact = opts.exact === true;
  const ja = journal(A, common);
  const jb = journal(B, common);
  const stepOps = alignSequences(A.steps, B.steps, (s: DiffStep) => `${s.vm}:${s.step}:${s.label}`);
  const steps: StepDiff[] = [];
  let eventsOnlyA = 0;
  let eventsOnlyB = 0;
  let layoutOnlyEvents = 0;
  let first: PairDiff['summary']['firstDivergence'] = null;
  for (const op of stepOps) {
    const sa = op.kind === 'ins' ? null : A.steps[op.a]!;
    const sb = op.kind === 'del' ? null : B.steps[op.b]!;
    const ref = (sa ?? sb)!;
    const evA = sa?.events ?? [];
    const evB = sb?.events ?? [];
    const lines: EventLine[] = alignSequences(evA, evB, (e) => eventKey(e, common, exact)).map((o) => {
      if (o.kind === 'del') return { op: 'del', a: evA[o.a]! };
      if (o.kind === 'ins') return { op: 'ins', b: evB[o.b]! };
      return { op: 'same', a: evA[o.a]!, b: evB[o.b]!, layoutOnly: layoutOnlyDiff(evA[o.a]!, evB[o.b]!, common) };
    });
    const onlyA = lines.filter((l) => l.op === 'del').length;
    const onlyB = lines.filter((l) => l.op === 'ins').length;
    const lo = lines.filter((l) => l.op === 'same' && l.layoutOnly.length > 0).length;
    const changesA = op.kind === 'ins' ? [] : ja[op.a]!;
    const changesB = op.kind === 'del' ? [] : jb[op.b]!;
    const js = diffSets(changesA, changesB);
    const violationsA = sa?.violations ?? [];
    const violationsB = sb?.violations ?? [];
    const outcomeA = sa ? sa.outcome : null;
    const outcomeB = sb ? sb.outcome : null;
    const differs = onlyA > 0 || onlyB > 0 || stripLayout(outcomeA, layoutOnlyFields) !== stripLayout(outcomeB, layoutOnlyFields) || js.onlyA.length > 0 || js.onlyB.length > 0 || violationsA.join() !== violationsB.join();
    if (differs && !first) {
      const l = lines.find((x) => x.op !== 'same');
      const jd = js.onlyA.length ? `-state ${js.onlyA[0]}` : js.onlyB.length ? `+state ${js.onlyB[0]}` : 'audit';
      const what =
        sa === null ? `step only under ${B.profile.name}` : sb === null ? `step only under ${A.profile.name}` : stripLayout(outcomeA, layoutOnlyFields) !== stripLayout(outcomeB, layoutOnlyFields) ? `outcome: ${outcomeA} vs ${outcomeB}` : l ? (l.op === 'del' ? `-${l.a.text}${l.a.fields ? ` [${eventRole(l.a, common)}]` : ''}` : `+${l.b.text}${l.b.fields ? ` [${eventRole(l.b, common)}]` : ''}`) : jd;
      first = { vm: ref.vm, step: ref.step, label: ref.label, what };
    }
    eventsOnlyA += onlyA;
    eventsOnlyB += onlyB;
    layoutOnlyEvents += lo;
    steps.push({ vm: ref.vm, step: ref.step, label: ref.label, outcomeA, outcomeB, lines, changesA, changesB, violationsA, violationsB, onlyA, onlyB, differs });
  }
  const forests: ForestDiff[] = [];
  const counters: { vm: number; name: string; a: number | null; b: number | null }[] = [];
  const nvm = Math.max(A.vms.length, B.vms.length);
  for (let v = 0; v < nvm; v++) {
    const va = A.vms[v];
    const vb = B.vms[v];
    const empty: StateSnap = { nodes: [], counters: {} };
    forests.push(compareForest(v, (va ?? vb)!.name, va?.final ?? empty, vb?.final ?? empty, common));
    const ca = va?.final.counters ?? {};
    const cb = vb?.final.counters ?? {};
    for (const k of [...new Set([...Object.keys(ca), ...Object.keys(cb)])]) {
      if (ca[k] !== cb[k]) counters.push({ vm: v, name: k, a: ca[k] ?? null, b: cb[k] ?? null });
    }
  }
  const forestDiffers = forests.reduce((n, f) => n + f.onlyA.length + f.onlyB.length + f.changed.length, 0);
  const stepsDiffer = steps.filter((s) => s.differs).length;
  return {
    a: A.profile.name,
    b: B.profile.name,
    commonFields: [...common].sort(),
    layoutOnlyFields,
    steps,
    forests,
    counters,
    summary: { steps: steps.length, stepsDiffer, eventsOnlyA, eventsOnlyB, layoutOnlyEvents, forestDiffers, countersDiffer: counters.length, firstDivergence: first },
    differs: stepsDiffer > 0 || forestDiffers > 0 || counters.length > 0,
  };
}
