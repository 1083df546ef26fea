/**
 * The kvmmmu tracepoints as mmutrace.h defines them: per event its binary fields (name, size,
 * signedness, in TP_STRUCT order, as the tracefs `format` file lists them) and a parser for its
 * TP_printk text. The trace reader uses the field list for the raw `fields` form and the text
 * parser for the ordinary form; test/golden/tracefs/formats holds the kernel's own format files.
 */

export interface TraceField {
  readonly name: string;
  readonly size: 1 | 2 | 4 | 8;
  readonly signed: boolean;
}

/** A parsed field value: 64-bit values and addresses as bigint, the rest as numbers. */
export type FieldValue = bigint | number;
export type EventFields = Record<string, FieldValue>;

export interface TraceEventSpec {
  readonly name: string;
  readonly fields: readonly TraceField[];
  /** Fields the TP_printk text spells out, parsed back; null when the text does not match. */
  parseText(body: string): EventFields | null;
  /** Values that depend on the host (addresses, pfns), left out of comparisons unless asked. */
  readonly host: readonly string[];
}

const f = (name: string, size: 1 | 2 | 4 | 8, signed = false): TraceField => ({ name, size, signed });
const hex = (s: string) => BigInt('0x' + s);
const ACCESS = ['---', '--x', 'w--', 'w-x', '-u-', '-ux', 'wu-', 'wux'];

const PAGE_FIELDS = [f('mmu_valid_gen', 1), f('gfn', 8), f('role', 4), f('root_count', 4), f('unsync', 1)];

const PAGE_RE = /^sp gen (\d+) gfn ([0-9a-f]+) l(\d+) (4|8)-byte q(\d+)( direct)? ([-wux]{3})( invalid)? (!?)nxe (!?)ad root (\d+) (sync|unsync)(?: (new|existing))?$/;

/**
 * The page fields KVM_MMU_PAGE_PRINTK spells out. The role is not printed whole: only level,
 * gPTE size, quadrant, direct, access, invalid, efer_nx and ad_disabled (`role_text.*`).
 */
function parsePage(body: string, created: boolean): EventFields | null {
  const m = PAGE_RE.exec(body);
  if (!m || (created !== (m[13] !== undefined))) return null;
  const access = ACCESS.indexOf(m[7]!);
  if (access < 0) return null;
  const out: EventFields = {
    mmu_valid_gen: Number(m[1]),
    gfn: hex(m[2]!),
    root_count: Number(m[11]),
    unsync: m[12] === 'unsync' ? 1 : 0,
    'role_text.level': Number(m[3]),
    'role_text.gpte_bytes': Number(m[4]),
    'role_text.quadrant': Number(m[5]),
    'role_text.direct': m[6] ? 1 : 0,
    'role_text.access': access,
    'role_text.invalid': m[8] ? 1 : 0,
    'role_text.efer_nx': m[9] ? 0 : 1,
    'role_text.ad_disabled': m[10] ? 1 : 0,
  };
  if (created) out['created'] = m[13] === 'new' ? 1 : 0;
  return out;
}

/** The error code; the flag names after it are a function of it (and of the kernel's flag table), not parsed. */
function pferrOf(hexText: string, flags: string): EventFields | null {
  return /^[A-Za-z|0-9x]*$/.test(flags) ? { pferr: Number.parseInt(hexText, 16) } : null;
}

function re(rx: RegExp, build: (m: RegExpExecArray) => EventFields): (body: string) => EventFields | null {
  return (body) => {
    const m = rx.exec(body);
    return m ? build(m) : null;
  };
}

const SPECS: readonly TraceEventSpec[] = [
  { name: 'kvm_mmu_get_page', fields: [...PAGE_FIELDS, f('created', 1)], parseText: (b) => parsePage(b, true), host: [] },
  { name: 'kvm_mmu_sync_page', fields: PAGE_FIELDS, parseText: (b) => parsePage(b, false), host: [] },
  { name: 'kvm_mmu_unsync_page', fields: PAGE_FIELDS, parseText: (b) => parsePage(b, false), host: [] },
  { name: 'kvm_mmu_prepare_zap_page', fields: PAGE_FIELDS, parseText: (b) => parsePage(b, false), host: [] },
  {
    name: 'kvm_mmu_pagetable_walk',
    fields: [f('addr', 8), f('pferr', 4)],
    parseText: (b) => {
      const m = /^addr ([0-9a-f]+) pferr ([0-9a-f]+) ?(\S*)$/.exec(b);
      const p = m && pferrOf(m[2]!, m[3]!);
      return p && { addr: hex(m![1]!), ...p };
    },
    host: [],
  },
  { name: 'kvm_mmu_paging_element', fields: [f('pte', 8), f('level', 4)], parseText: re(/^pte ([0-9a-f]+) level (\d+)$/, (m) => ({ pte: hex(m[1]!), level: Number(m[2]) })), host: [] },
  { name: 'kvm_mmu_set_accessed_bit', fields: [f('gpa', 8)], parseText: re(/^gpa ([0-9a-f]+)$/, (m) => ({ gpa: hex(m[1]!) })), host: [] },
  { name: 'kvm_mmu_set_dirty_bit', fields: [f('gpa', 8)], parseText: re(/^gpa ([0-9a-f]+)$/, (m) => ({ gpa: hex(m[1]!) })), host: [] },
  {
    name: 'kvm_mmu_walker_error',
    fields: [f('pferr', 4)],
    parseText: (b) => {
      const m = /^pferr ([0-9a-f]+) ?(\S*)$/.exec(b);
      return m ? pferrOf(m[1]!, m[2]!) : null;
    },
    host: [],
  },
  {
    name: 'mark_mmio_spte',
    fields: [f('sptep', 8), f('gfn', 8), f('access', 4), f('gen', 4)],
    parseText: re(/^sptep:(\S+) gfn ([0-9a-f]+) access ([0-9a-f]+) gen ([0-9a-f]+)$/, (m) => ({ gfn: hex(m[2]!), access: Number.parseInt(m[3]!, 16), gen: Number.parseInt(m[4]!, 16) })),
    host: ['sptep'],
  },
  {
    name: 'handle_mmio_page_fault',
    fields: [f('addr', 8), f('gfn', 8), f('access', 4)],
    parseText: re(/^addr:([0-9a-f]+) gfn ([0-9a-f]+) access ([0-9a-f]+)$/, (m) => ({ addr: hex(m[1]!), gfn: hex(m[2]!), access: Number.parseInt(m[3]!, 16) })),
    host: [],
  },
  {
    name: 'fast_page_fault',
    fields: [f('vcpu_id', 4, true), f('cr2_or_gpa', 8), f('error_code', 8), f('sptep', 8), f('old_spte', 8), f('new_spte', 8), f('ret', 4, true)],
    parseText: re(/^vcpu (-?\d+) gva ([0-9a-f]+) error_code (\S*) sptep (\S+) old (?:0x)?([0-9a-f]+) new ([0-9a-f]+) spurious ([01]) fixed ([01])$/, (m) => ({
      vcpu_id: Number(m[1]),
      cr2_or_gpa: hex(m[2]!),
      old_spte: hex(m[5]!),
      new_spte: hex(m[6]!),
      spurious: Number(m[7]),
      fixed: Number(m[8]),
    })),
    host: ['sptep', 'old_spte', 'new_spte'],
  },
  {
    name: 'kvm_mmu_zap_all_fast',
    fields: [f('mmu_valid_gen', 1), f('mmu_used_pages', 4)],
    parseText: re(/^kvm-mmu-valid-gen (\d+) used_pages ([0-9a-f]+)$/, (m) => ({ mmu_valid_gen: Number(m[1]), mmu_used_pages: Number.parseInt(m[2]!, 16) })),
    host: [],
  },
  {
    name: 'check_mmio_spte',
    fields: [f('kvm_gen', 4), f('spte_gen', 4), f('spte', 8)],
    parseText: re(/^spte ([0-9a-f]+) kvm_gen ([0-9a-f]+) spte-gen ([0-9a-f]+) valid ([01])$/, (m) => ({ spte: hex(m[1]!), kvm_gen: Number.parseInt(m[2]!, 16), spte_gen: Number.parseInt(m[3]!, 16) })),
    host: ['spte'],
  },
  {
    name: 'kvm_mmu_set_spte',
    fields: [f('gfn', 8), f('spte', 8), f('sptep', 8), f('level', 1), f('r', 1), f('x', 1), f('u', 1, true)],
    parseText: re(/^gfn ([0-9a-f]+) spte ([0-9a-f]+) \(([-r])([-w])([-x])([-u]?)\) level (-?\d+) at ([0-9a-f]+)$/, (m) => ({
      gfn: hex(m[1]!),
      spte: hex(m[2]!),
      sptep: hex(m[8]!),
      level: Number(m[7]),
      r: m[3] === 'r' ? 1 : 0,
      x: m[5] === 'x' ? 1 : 0,
      u: m[6] === '' ? -1 : m[6] === 'u' ? 1 : 0,
      w: m[4] === 'w' ? 1 : 0,
    })),
    host: ['spte', 'sptep'],
  },
  {
    name: 'kvm_mmu_spte_requested',
    fields: [f('gfn', 8), f('pfn', 8), f('level', 1)],
    parseText: re(/^gfn ([0-9a-f]+) pfn ([0-9a-f]+) level (-?\d+)$/, (m) => ({ gfn: hex(m[1]!), pfn: hex(m[2]!), level: Number(m[3]) })),
    host: ['pfn'],
  },
  {
    name: 'kvm_tdp_mmu_spte_changed',
    fields: [f('gfn', 8), f('old_spte', 8), f('new_spte', 8), f('level', 1), f('as_id', 1)],
    parseText: re(/^as id (\d+) gfn ([0-9a-f]+) level (\d+) old_spte ([0-9a-f]+) new_spte ([0-9a-f]+)$/, (m) => ({ as_id: Number(m[1]), gfn: hex(m[2]!), level: Number(m[3]), old_spte: hex(m[4]!), new_spte: hex(m[5]!) })),
    host: ['old_spte', 'new_spte'],
  },
  {
    name: 'kvm_mmu_split_huge_page',
    fields: [f('gfn', 8), f('spte', 8), f('level', 4, true), f('errno', 4, true)],
    parseText: re(/^gfn ([0-9a-f]+) spte ([0-9a-f]+) level (-?\d+) errno (-?\d+)$/, (m) => ({ gfn: hex(m[1]!), spte: hex(m[2]!), level: Number(m[3]), errno: Number(m[4]) })),
    host: ['spte'],
  },
];

export const TRACE_EVENTS: ReadonlyMap<string, TraceEventSpec> = new Map(SPECS.map((s) => [s.name, s]));

/** Events whose records describe a shadow page (KVM_MMU_PAGE_FIELDS). */
export const PAGE_EVENTS: ReadonlySet<string> = new Set(['kvm_mmu_get_page', 'kvm_mmu_sync_page', 'kvm_mmu_unsync_page', 'kvm_mmu_prepare_zap_page']);
