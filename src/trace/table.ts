/**
 * The kvmmmu trace system (arch/x86/kvm/mmu/mmutrace.h), one entry per event, the only place an
 * event is defined: its binary fields (TP_STRUCT__entry: name, size, signedness, in the order the
 * tracefs `format` file lists them), how the model's record fills them (TP_fast_assign), its
 * TP_printk format and arguments, its JSON forms (`run --format jsonl`, the kvm oracle's
 * encoding) and which fields depend on the host. Printing (./print.ts), the `fields` form
 * (./fields-form.ts), JSON (./json.ts) and the trace reader's text parser (./parse.ts) are derived
 * from it; test/golden/tracefs/formats holds the kernel's own format files it is checked against.
 */
import { fromHalves } from '../bits/u64.js';
import { ACCESS_STR } from '../roles/format.js';

export interface TraceField {
  readonly name: string;
  readonly size: 1 | 2 | 4 | 8;
  readonly signed: boolean;
}

/** A binary field's value as the model fills it: 64-bit values as bigint, flags as booleans. */
export type RawValue = bigint | number | boolean;
export type RawFields = Readonly<Record<string, RawValue>>;

/** A parsed field value: 64-bit values and addresses as bigint, the rest as numbers. */
export type FieldValue = bigint | number;
export type EventFields = Record<string, FieldValue>;

/**
 * One TP_printk argument. `src` is a field (`REC->src`) or a part of the page role (`role.level`;
 * `role.gpte_bytes` is `role.has_4_byte_gpte ? 4 : 8`). Without more it is printed with its
 * conversion; `mask` takes `REC->src & mask` (non-zero: 1); `eq` compares with a field or a
 * constant (1 or 0); `choices` prints `cond ? a : b` (the text whose value matches, any other
 * non-zero value printing as the choice for 1); `flags` is __print_flags with the profile's
 * page-fault error-code table. The text parser stores what the argument printed under `as`
 * (default: the field, or `role_text.<part>`); `as: null` means the text is not read back.
 */
export interface PrintArg {
  readonly src: string;
  readonly mask?: bigint;
  readonly eq?: string | number;
  readonly choices?: readonly (readonly [text: string, value: number])[];
  readonly flags?: true;
  readonly as?: string | null;
}

/** A JSON value encoding: as is, `0x` hex, 32-bit zero-padded hex, boolean, 0/1, hex without the SPTE's pfn bits. */
export type JsonEnc = 'num' | 'hex' | 'hex32' | 'bool' | '01' | 'spte_flags';
/** One JSON member: key, the field it is made of, encoding. */
export type JsonMember = readonly [key: string, field: string, enc: JsonEnc];

/** Who emits the event: the shadow MMU (a TraceEvent record), the guest walker (a WalkTracer call), or only a kernel (read from traces). */
export type EventSource = 'mmu' | 'walker' | 'kernel';

export interface TraceEventDef<R = never> {
  readonly source: EventSource;
  readonly fields: readonly TraceField[];
  /** TP_printk: the format (the page events' nested KVM_MMU_PAGE_PRINTK expanded) and its arguments. */
  readonly printk: { readonly fmt: string; readonly args: readonly PrintArg[] };
  /** TP_fast_assign: the model's record (an MMU record, or a walker call's three numbers) as binary fields. */
  readonly assign?: (r: R) => RawFields;
  /**
   * The inverse of `assign` for MMU events: a record made of fields read back from a kernel's
   * trace (the `fields` form), so a real KVM's events go through the model's printing, JSON and
   * diff code. Host addresses wider than 2^53 lose their low bits (they are compared only with --exact).
   */
  readonly record?: (f: EventFields) => R;
  /** `run --format jsonl` (after `event`); for walker events the WalkEvent `fields`. */
  readonly json?: readonly JsonMember[];
  /** The kvm oracle's encoding (test/golden/kvm/README.md): `ev` and its members. */
  readonly oracle?: { readonly ev: string; readonly members: readonly JsonMember[] };
  /** Values that depend on the host (addresses, pfns), left out of comparisons unless asked. */
  readonly host: readonly string[];
  /** A shadow-page event (KVM_MMU_PAGE_FIELDS). */
  readonly page?: true;
  /** Parsed fields in printk order (default: TP_STRUCT order, then values only the text carries). */
  readonly parsedInPrintkOrder?: true;
}

const f = (name: string, size: 1 | 2 | 4 | 8, signed = false): TraceField => ({ name, size, signed });
const yesNo = (yes: string, no: string): readonly (readonly [string, number])[] => [[yes, 1], [no, 0]];
const a = (src: string, more: Omit<PrintArg, 'src'> = {}): PrintArg => ({ src, ...more });

/** The shadow page a page event describes, as the MMU records it (KVM_MMU_PAGE_FIELDS). */
export interface PageFields {
  readonly mmu_valid_gen: number;
  readonly gfn: number;
  readonly role: number;
  readonly root_count: number;
  readonly unsync: boolean;
}

/** kvm_mmu_spte_requested (the fault's gfn, host pfn and goal level, before the shadow walk). */
export interface SpteRequestedRecord {
  readonly gfn: number;
  readonly pfn: number;
  readonly level: number;
}

/**
 * kvm_mmu_set_spte (after mmu_set_spte wrote a leaf): the SPTE as halves, its host address
 * (sptep as a physical address), and r/x/u as the tracepoint computes them (u: -1 when the
 * format has no user bit, e.g. EPT).
 */
export interface SetSpteRecord {
  readonly gfn: number;
  readonly level: number;
  readonly spte_lo: number;
  readonly spte_hi: number;
  readonly sptep_pa: number;
  readonly r: boolean;
  readonly x: boolean;
  readonly u: -1 | 0 | 1;
}

/** mark_mmio_spte (an MMIO SPTE written): its host address, gfn, and the SPTE's access bits and generation. */
export interface MarkMmioRecord {
  readonly sptep_pa: number;
  readonly gfn: number;
  /** spte & ACC_ALL, as the tracepoint takes it. */
  readonly access: number;
  readonly gen: number;
}

/** handle_mmio_page_fault (an MMIO SPTE hit): the address (0 for a direct MMU), gfn and access. */
export interface HandleMmioRecord {
  readonly addr: bigint;
  readonly gfn: number;
  readonly access: number;
}

/** check_mmio_spte: the memslots generation, the SPTE's, and the SPTE. */
export interface CheckMmioRecord {
  readonly kvm_gen: number;
  readonly spte_gen: number;
  readonly spte_lo: number;
  readonly spte_hi: number;
}

export interface ZapAllFastRecord {
  readonly mmu_valid_gen: number;
  readonly mmu_used_pages: number;
}

/** A walker tracepoint as the walker log stores it: three 32-bit numbers (see each assign). */
export type WalkerRecord = readonly [a: number, b: number, c: number];

const PAGE_FIELDS = [f('mmu_valid_gen', 1), f('gfn', 8), f('role', 4), f('root_count', 4), f('unsync', 1)];

/**
 * The role part of KVM_MMU_PAGE_PRINTK (`l4 8-byte q0 direct wux nxe ad`): its own entry so the
 * role labels elsewhere (roles, diffs, trace keys) are printed from the same definition.
 */
export const ROLE_PRINTK: { readonly fmt: string; readonly args: readonly PrintArg[] } = {
  fmt: 'l%u %u-byte q%u%s %s%s %snxe %sad',
  args: [
    a('role.level'),
    a('role.gpte_bytes', { choices: [['4', 4], ['8', 8]] }),
    a('role.quadrant'),
    a('role.direct', { choices: yesNo(' direct', '') }),
    a('role.access', { choices: ACCESS_STR.map((s, i) => [s, i] as const) }),
    a('role.invalid', { choices: yesNo(' invalid', '') }),
    a('role.efer_nx', { choices: yesNo('', '!') }),
    a('role.ad_disabled', { choices: yesNo('!', '') }),
  ],
};

/** KVM_MMU_PAGE_PRINTK's format; the kernel ends it with `%c` of 0, which prints nothing. */
const PAGE_FMT = `sp gen %u gfn %llx ${ROLE_PRINTK.fmt} root %u %s`;
const PAGE_ARGS: readonly PrintArg[] = [a('mmu_valid_gen'), a('gfn'), ...ROLE_PRINTK.args, a('root_count'), a('unsync', { choices: yesNo('unsync', 'sync') })];
const PAGE_JSON: readonly JsonMember[] = [['mmu_valid_gen', 'mmu_valid_gen', 'num'], ['gfn', 'gfn', 'hex'], ['role', 'role', 'hex32'], ['root_count', 'root_count', 'num'], ['unsync', 'unsync', 'bool']];
const PAGE_ORACLE: readonly JsonMember[] = [['gfn', 'gfn', 'hex'], ['role', 'role', 'hex'], ['root_count', 'root_count', 'num'], ['unsync', 'unsync', '01']];
const pageAssign = (r: PageFields): Record<string, RawValue> => ({ mmu_valid_gen: r.mmu_valid_gen, gfn: BigInt(r.gfn), role: r.role >>> 0, root_count: r.root_count, unsync: r.unsync });
/** A parsed field as a JS number (64-bit ones as bigint). */
const n = (v: FieldValue | undefined): number => (typeof v === 'bigint' ? Number(v) : (v ?? 0));
const big = (v: FieldValue | undefined): bigint => (typeof v === 'bigint' ? v : BigInt(v ?? 0));
const lo32 = (v: FieldValue | undefined): number => Number(BigInt.asUintN(32, big(v)));
const hi32 = (v: FieldValue | undefined): number => Number(BigInt.asUintN(32, big(v) >> 32n));
const pageRecord = (x: EventFields): PageFields => ({ mmu_valid_gen: n(x['mmu_valid_gen']), gfn: n(x['gfn']), role: n(x['role']) >>> 0, root_count: n(x['root_count']), unsync: n(x['unsync']) !== 0 });

/** A KVM_MMU_PAGE_FIELDS event (kvm_mmu_page_class). */
function pageEvent(ev: string): TraceEventDef<PageFields> & { readonly source: 'mmu' } {
  return { source: 'mmu', page: true, fields: PAGE_FIELDS, printk: { fmt: PAGE_FMT, args: PAGE_ARGS }, assign: pageAssign, record: pageRecord, json: PAGE_JSON, oracle: { ev, members: PAGE_ORACLE }, host: [] };
}

const PFERR_FLAGS = a('pferr', { flags: true, as: null });

const TABLE = {
  kvm_mmu_get_page: mmu({
    page: true,
    fields: [...PAGE_FIELDS, f('created', 1)],
    printk: { fmt: PAGE_FMT + ' %s', args: [...PAGE_ARGS, a('created', { choices: yesNo('new', 'existing') })] },
    assign: (r: PageFields & { readonly created: boolean }) => ({ mmu_valid_gen: r.mmu_valid_gen, gfn: BigInt(r.gfn), role: r.role >>> 0, root_count: r.root_count, unsync: r.unsync, created: r.created }),
    record: (x) => ({ ...pageRecord(x), created: n(x['created']) !== 0 }),
    json: [...PAGE_JSON, ['created', 'created', 'bool']],
    oracle: { ev: 'get_page', members: [['gfn', 'gfn', 'hex'], ['role', 'role', 'hex'], ['created', 'created', '01'], ['root_count', 'root_count', 'num'], ['unsync', 'unsync', '01']] },
    host: [],
  }),
  kvm_mmu_sync_page: pageEvent('sync_page'),
  kvm_mmu_unsync_page: pageEvent('unsync_page'),
  kvm_mmu_prepare_zap_page: pageEvent('prepare_zap_page'),
  // paging_tmpl.h FNAME(walk_addr_generic)'s events, defined in mmutrace.h.
  kvm_mmu_pagetable_walk: walker({
    fields: [f('addr', 8), f('pferr', 4)],
    printk: { fmt: 'addr %llx pferr %x %s', args: [a('addr'), a('pferr'), PFERR_FLAGS] },
    assign: ([lo, hi, pferr]) => ({ addr: fromHalves(lo, hi), pferr: pferr >>> 0 }),
    json: [['addr', 'addr', 'hex'], ['pferr', 'pferr', 'num']],
  }),
  kvm_mmu_paging_element: walker({
    fields: [f('pte', 8), f('level', 4)],
    printk: { fmt: 'pte %llx level %u', args: [a('pte'), a('level')] },
    assign: ([lo, hi, level]) => ({ pte: fromHalves(lo, hi), level }),
    json: [['pte', 'pte', 'hex'], ['level', 'level', 'num']],
  }),
  kvm_mmu_set_accessed_bit: walker(setBit()),
  kvm_mmu_set_dirty_bit: walker(setBit()),
  kvm_mmu_walker_error: walker({
    fields: [f('pferr', 4)],
    printk: { fmt: 'pferr %x %s', args: [a('pferr'), PFERR_FLAGS] },
    assign: ([pferr]) => ({ pferr: pferr >>> 0 }),
    json: [['pferr', 'pferr', 'num']],
  }),
  mark_mmio_spte: mmu({
    fields: [f('sptep', 8), f('gfn', 8), f('access', 4), f('gen', 4)],
    printk: { fmt: 'sptep:%p gfn %llx access %x gen %x', args: [a('sptep', { as: null }), a('gfn'), a('access'), a('gen')] },
    assign: (r: MarkMmioRecord) => ({ sptep: BigInt(r.sptep_pa), gfn: BigInt(r.gfn), access: r.access, gen: r.gen }),
    record: (x) => ({ sptep_pa: n(x['sptep']), gfn: n(x['gfn']), access: n(x['access']), gen: n(x['gen']) }),
    json: [['gfn', 'gfn', 'hex'], ['access', 'access', 'num'], ['gen', 'gen', 'num']],
    oracle: { ev: 'mark_mmio_spte', members: [['gfn', 'gfn', 'hex'], ['access', 'access', 'num'], ['gen', 'gen', 'num']] },
    host: ['sptep'],
  }),
  handle_mmio_page_fault: mmu({
    fields: [f('addr', 8), f('gfn', 8), f('access', 4)],
    printk: { fmt: 'addr:%llx gfn %llx access %x', args: [a('addr'), a('gfn'), a('access')] },
    assign: (r: HandleMmioRecord) => ({ addr: r.addr, gfn: BigInt(r.gfn), access: r.access }),
    record: (x) => ({ addr: big(x['addr']), gfn: n(x['gfn']), access: n(x['access']) }),
    json: [['addr', 'addr', 'hex'], ['gfn', 'gfn', 'hex'], ['access', 'access', 'num']],
    oracle: { ev: 'handle_mmio_page_fault', members: [['addr', 'addr', 'hex'], ['gfn', 'gfn', 'hex'], ['access', 'access', 'num']] },
    host: [],
  }),
  fast_page_fault: kernel({
    fields: [f('vcpu_id', 4, true), f('cr2_or_gpa', 8), f('error_code', 8), f('sptep', 8), f('old_spte', 8), f('new_spte', 8), f('ret', 4, true)],
    printk: {
      fmt: 'vcpu %d gva %llx error_code %s sptep %p old %#llx new %llx spurious %d fixed %d',
      // spurious: ret == RET_PF_SPURIOUS, fixed: ret == RET_PF_FIXED
      args: [a('vcpu_id'), a('cr2_or_gpa'), a('error_code', { flags: true, as: null }), a('sptep', { as: null }), a('old_spte'), a('new_spte'), a('ret', { eq: 6, as: 'spurious' }), a('ret', { eq: 5, as: 'fixed' })],
    },
    host: ['sptep', 'old_spte', 'new_spte'],
  }),
  kvm_mmu_zap_all_fast: mmu({
    fields: [f('mmu_valid_gen', 1), f('mmu_used_pages', 4)],
    printk: { fmt: 'kvm-mmu-valid-gen %u used_pages %x', args: [a('mmu_valid_gen'), a('mmu_used_pages')] },
    assign: (r: ZapAllFastRecord) => ({ mmu_valid_gen: r.mmu_valid_gen, mmu_used_pages: r.mmu_used_pages }),
    record: (x) => ({ mmu_valid_gen: n(x['mmu_valid_gen']), mmu_used_pages: n(x['mmu_used_pages']) }),
    json: [['mmu_valid_gen', 'mmu_valid_gen', 'num'], ['mmu_used_pages', 'mmu_used_pages', 'num']],
    oracle: { ev: 'zap_all_fast', members: [['mmu_valid_gen', 'mmu_valid_gen', 'num'], ['mmu_used_pages', 'mmu_used_pages', 'num']] },
    host: [],
  }),
  check_mmio_spte: mmu({
    fields: [f('kvm_gen', 4), f('spte_gen', 4), f('spte', 8)],
    printk: { fmt: 'spte %llx kvm_gen %x spte-gen %x valid %d', args: [a('spte'), a('kvm_gen'), a('spte_gen'), a('kvm_gen', { eq: 'spte_gen', as: null })] },
    assign: (r: CheckMmioRecord) => ({ kvm_gen: r.kvm_gen, spte_gen: r.spte_gen, spte: fromHalves(r.spte_lo, r.spte_hi) }),
    record: (x) => ({ kvm_gen: n(x['kvm_gen']), spte_gen: n(x['spte_gen']), spte_lo: lo32(x['spte']), spte_hi: hi32(x['spte']) }),
    json: [['kvm_gen', 'kvm_gen', 'num'], ['spte_gen', 'spte_gen', 'num'], ['spte', 'spte', 'hex']],
    oracle: { ev: 'check_mmio_spte', members: [['kvm_gen', 'kvm_gen', 'num'], ['spte_gen', 'spte_gen', 'num'], ['spte', 'spte', 'spte_flags']] },
    host: ['spte'],
    parsedInPrintkOrder: true,
  }),
  kvm_mmu_set_spte: mmu({
    fields: [f('gfn', 8), f('spte', 8), f('sptep', 8), f('level', 1), f('r', 1), f('x', 1), f('u', 1, true)],
    printk: {
      fmt: 'gfn %llx spte %llx (%s%s%s%s) level %d at %llx',
      args: [
        a('gfn'),
        a('spte'),
        a('r', { choices: yesNo('r', '-') }),
        a('spte', { mask: 1n << 1n, choices: yesNo('w', '-'), as: 'w' }),
        a('x', { choices: yesNo('x', '-') }),
        a('u', { choices: [['', -1], ['u', 1], ['-', 0]] }),
        a('level'),
        a('sptep'),
      ],
    },
    assign: (r: SetSpteRecord) => ({ gfn: BigInt(r.gfn), spte: fromHalves(r.spte_lo, r.spte_hi), sptep: BigInt(r.sptep_pa), level: r.level, r: r.r, x: r.x, u: r.u }),
    record: (x) => ({ gfn: n(x['gfn']), spte_lo: lo32(x['spte']), spte_hi: hi32(x['spte']), sptep_pa: n(x['sptep']), level: n(x['level']), r: n(x['r']) !== 0, x: n(x['x']) !== 0, u: (n(x['u']) < 0 ? -1 : n(x['u']) ? 1 : 0) as -1 | 0 | 1 }),
    json: [['gfn', 'gfn', 'hex'], ['level', 'level', 'num'], ['spte', 'spte', 'hex'], ['r', 'r', 'bool'], ['x', 'x', 'bool'], ['u', 'u', 'num']],
    oracle: { ev: 'set_spte', members: [['gfn', 'gfn', 'hex'], ['level', 'level', 'num'], ['spte_flags', 'spte', 'spte_flags'], ['r', 'r', '01'], ['x', 'x', '01'], ['u', 'u', 'num']] },
    host: ['spte', 'sptep'],
  }),
  kvm_mmu_spte_requested: mmu({
    fields: [f('gfn', 8), f('pfn', 8), f('level', 1)],
    printk: { fmt: 'gfn %llx pfn %llx level %d', args: [a('gfn'), a('pfn'), a('level')] },
    assign: (r: SpteRequestedRecord) => ({ gfn: BigInt(r.gfn), pfn: BigInt(r.pfn), level: r.level }),
    record: (x) => ({ gfn: n(x['gfn']), pfn: n(x['pfn']), level: n(x['level']) }),
    json: [['gfn', 'gfn', 'hex'], ['pfn', 'pfn', 'hex'], ['level', 'level', 'num']],
    oracle: { ev: 'spte_requested', members: [['gfn', 'gfn', 'hex'], ['level', 'level', 'num']] },
    host: ['pfn'],
  }),
  kvm_tdp_mmu_spte_changed: kernel({
    fields: [f('gfn', 8), f('old_spte', 8), f('new_spte', 8), f('level', 1), f('as_id', 1)],
    printk: { fmt: 'as id %d gfn %llx level %d old_spte %llx new_spte %llx', args: [a('as_id'), a('gfn'), a('level'), a('old_spte'), a('new_spte')] },
    host: ['old_spte', 'new_spte'],
    parsedInPrintkOrder: true,
  }),
  kvm_mmu_split_huge_page: kernel({
    fields: [f('gfn', 8), f('spte', 8), f('level', 4, true), f('errno', 4, true)],
    printk: { fmt: 'gfn %llx spte %llx level %d errno %d', args: [a('gfn'), a('spte'), a('level'), a('errno')] },
    host: ['spte'],
  }),
};

/** kvm_mmu_set_bit_class: kvm_mmu_set_accessed_bit, kvm_mmu_set_dirty_bit. */
function setBit(): Omit<TraceEventDef<WalkerRecord>, 'source' | 'host'> {
  return {
    fields: [f('gpa', 8)],
    printk: { fmt: 'gpa %llx', args: [a('gpa')] },
    assign: ([gpa]) => ({ gpa: BigInt(gpa) }),
    json: [['gpa', 'gpa', 'hex']],
  };
}

function mmu<R>(d: Omit<TraceEventDef<R>, 'source'>): TraceEventDef<R> & { readonly source: 'mmu' } {
  return { source: 'mmu', ...d };
}

function walker(d: Omit<TraceEventDef<WalkerRecord>, 'source' | 'host'>): TraceEventDef<WalkerRecord> & { readonly source: 'walker' } {
  return { source: 'walker', host: [], ...d };
}

function kernel(d: Omit<TraceEventDef, 'source'>): TraceEventDef & { readonly source: 'kernel' } {
  return { source: 'kernel', ...d };
}

export type KvmmmuTable = typeof TABLE;
export type KvmmmuEventName = keyof KvmmmuTable;

/** Every event's name, as a value: `KVMMMU.kvm_mmu_get_page` is the string `'kvm_mmu_get_page'`. */
export const KVMMMU: { readonly [N in KvmmmuEventName]: N } = Object.fromEntries(Object.keys(TABLE).map((n) => [n, n])) as { [N in KvmmmuEventName]: N };

/** The record the model emits for event N (the argument of its TP_fast_assign). */
export type RecordOf<N extends KvmmmuEventName> = KvmmmuTable[N] extends TraceEventDef<infer R> ? R : never;

/** An event's definition with its name. */
export type TraceEventSpec = TraceEventDef<never> & { readonly name: KvmmmuEventName };

export const TRACE_EVENTS: ReadonlyMap<string, TraceEventSpec> = new Map(
  (Object.entries(TABLE) as [KvmmmuEventName, TraceEventDef<never>][]).map(([name, d]) => [name, { name, ...d }]),
);

const namesOf = (p: (d: TraceEventSpec) => boolean): KvmmmuEventName[] => [...TRACE_EVENTS.values()].filter(p).map((d) => d.name);

/** Events whose records describe a shadow page (KVM_MMU_PAGE_FIELDS). */
export const PAGE_EVENTS: ReadonlySet<string> = new Set(namesOf((d) => d.page === true));

/** The events the shadow MMU emits (TraceEvent records). */
export const MMU_EVENTS: ReadonlySet<string> = new Set(namesOf((d) => d.source === 'mmu'));

/** The guest walker's events, in the order the walker log numbers them. */
export const WALKER_EVENTS: readonly KvmmmuEventName[] = namesOf((d) => d.source === 'walker');

/** The definition of a known event. */
export function eventDef(name: KvmmmuEventName): TraceEventSpec {
  return TRACE_EVENTS.get(name)!;
}
