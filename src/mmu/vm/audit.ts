/**
 * The invariant auditor (the model's mmu_audit.c, kept alive by running after every step of every
 * test). Each violation names the invariant, the page and the step.
 */
import { fromHalves } from '../../bits/u64.js';
import { INVALID_PAGE, SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import { gfnHash, type Kvm } from '../pages/kvm.js';
import { NIL } from '../pages/page_hash.js';
import { KVM_NUM_MMU_PAGES } from '../../roles/hash.js';
import { is_last_spte, is_mmio_spte, is_shadow_present_pte, is_writable_pte, spte_to_pfn } from '../spte/spte.js';
import type { Machine } from './machine.js';
import type { KvmMmuPage } from '../pages/page.js';
import type { LivePages } from '../pages/live_pages.js';
import { paeRootTargets, root_to_sp } from '../pages/roots.js';
import { kvm_mmu_page_get_gfn, rmapKey, rmapKeyFrame } from '../pages/rmap.js';
import { gfnValidPagesWithGptes } from '../pages/unsync.js';

export interface Violation {
  readonly invariant: string;
  /** The page concerned: `sp <id> gfn <hex> l<level>`, or a host pfn / structure name. */
  readonly page: string;
  readonly detail: string;
  readonly step: string;
}

const DMA32_END_PFN = 0x100000;

/**
 * The audit after a step: every invariant below is checked every time. auditClean proves the
 * state has no violation with reused scratch and no per-step Maps; only when it cannot (a
 * violation, or a state it does not model, such as two live pages on one pfn) does auditReport
 * run, which names each violation in its own order. So the report is auditReport's, always.
 */
export function audit(m: Machine, step: string): Violation[] {
  let clean = false;
  try {
    clean = auditClean(m);
  } catch {
    // A state that makes the fast path throw (a page not allocated ...): let auditReport say what.
  }
  if (auditCrossCheck.on) return crossChecked(m, step, clean);
  return clean ? [] : auditReport(m, step);
}

/**
 * The tests' check of auditClean against auditReport (test/support/audit-cross-check.ts turns it
 * on for the whole suite): every audit also runs auditReport and throws when auditClean called
 * a state clean that has violations. States auditReport finds clean but auditClean does not are
 * counted (they only cost time).
 */
export const auditCrossCheck = { on: false, audits: 0, slow: 0 };

function crossChecked(m: Machine, step: string, clean: boolean): Violation[] {
  const report = auditReport(m, step);
  auditCrossCheck.audits++;
  if (clean && report.length) throw new Error(`auditClean passed a state with violations: ${report.map(formatViolation).join('; ')}`);
  if (!clean && !report.length) auditCrossCheck.slow++;
  return report;
}

/** Every violation, named in the auditor's order (the reference the fast path answers for). */
export function auditReport(m: Machine, step: string): Violation[] {
  const { kvm, vcpu, mem, caches } = m;
  const out: Violation[] = [];
  const name = (sp: KvmMmuPage) => `sp ${sp.id} gfn ${sp.gfn.toString(16)} l${kvm.level(sp)}`;
  const bad = (invariant: string, page: string, detail: string) => out.push({ invariant, page, detail, step });

  const live = kvm.pages;
  const rootRefs = new Map<KvmMmuPage, number>();
  const ref = (hpa: number, where: string) => {
    if (hpa === INVALID_PAGE) return;
    const sp = root_to_sp(kvm, hpa);
    if (!sp) return bad('root-is-live-page', where, `root ${hpa.toString(16)} has no live shadow page`);
    rootRefs.set(sp, (rootRefs.get(sp) ?? 0) + 1);
  };
  const mmu = vcpu.mmu;
  const rootSp = root_to_sp(kvm, mmu.root_hpa);
  if (mmu.root_hpa !== INVALID_PAGE && rootSp) ref(mmu.root_hpa, 'root_hpa');
  mmu.prev_roots.forEach((r, i) => ref(r.hpa, `prev_roots[${i}]`));
  if (mmu.pae_root) for (const { index, pa } of paeRootTargets(mmu.pae_root)) ref(pa, `pae_root[${index}]`);

  // Links: every present non-leaf SPTE points at a live page that lists it as a parent; the
  // present leaves are collected on the way for the rmap checks below.
  const leaves = new Map<number, number>();
  const perLevel = [0, 0, 0, 0];
  const seenParents = new Map<KvmMmuPage, Set<number>>();
  for (const sp of live) {
    if (sp.freed) bad('live-pages-not-freed', name(sp), 'freed page still in the live set');
    const level = kvm.level(sp);
    // The arena indexed directly (sp.spt is a view looked up per call): read it once per page.
    const arena = kvm.arena;
    const base = sp.spt_base;
    for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) {
      const lo = arena[base + 2 * i]!;
      if (!is_shadow_present_pte(lo)) continue;
      const sptep = kvm.sptep(sp, i);
      if (is_last_spte(lo, level)) {
        leaves.set(sptep, rmapKey(kvm_mmu_page_get_gfn(kvm, sp, i), level));
        perLevel[Math.min(level, 3)]!++;
        continue;
      }
      const hi = arena[base + 2 * i + 1]!;
      const child = kvm.spte_to_child(lo, hi);
      if (!child || !live.has(child)) {
        bad('spte-points-at-live-page', name(sp), `SPTE ${i} = ${fromHalves(lo, hi).toString(16)} points at pfn ${spte_to_pfn(lo, hi).toString(16)}, not a live page`);
        continue;
      }
      if (!child.parent_ptes.has(sptep)) bad('parent-list-holds-spte', name(child), `parent ${name(sp)} SPTE ${i} is not in parent_ptes`);
      let s = seenParents.get(child);
      if (!s) seenParents.set(child, (s = new Set()));
      s.add(sptep);
      if ((child.role & kvm.rb.invalid) !== 0) bad('no-link-to-invalid-page', name(child), `linked from ${name(sp)} SPTE ${i}`);
      if ((child.unsync || child.unsync_children) && !sp.testUnsyncChild(i)) {
        bad('unsync-bitmap-covers-children', name(sp), `child ${name(child)} at ${i} is unsync but bit ${i} is clear`);
      }
    }
    let pop = 0;
    for (const w of sp.unsync_child_bitmap) {
      let x = w;
      while (x) {
        x &= x - 1;
        pop++;
      }
    }
    if (pop !== sp.unsync_children) bad('unsync-children-count', name(sp), `unsync_children ${sp.unsync_children} != ${pop} bits`);
    if (sp.unsync && level !== 1) bad('only-leaf-pages-unsync', name(sp), 'unsync above level 1');
  }
  for (const sp of live) {
    const seen = seenParents.get(sp) ?? new Set<number>();
    let n = 0;
    for (const p of sp.parent_ptes.values()) {
      n++;
      if (!seen.has(p)) bad('parent-entry-is-present-link', name(sp), `parent_ptes holds sptep ${p} which does not link to it`);
    }
    if (n !== seen.size) bad('parent-list-size', name(sp), `${n} parent entries for ${seen.size} links`);
  }

  // Leaf SPTEs and rmaps: every present leaf is in the rmap of (its gfn, level) exactly once and
  // every rmap entry is such a leaf; the page-size counters count them.
  let inRmaps = 0;
  for (const [key, list] of kvm.rmaps) {
    if (list.empty) bad('rmap-not-empty', `rmap ${key}`, 'an empty rmap is kept');
    for (const sptep of list.values()) {
      inRmaps++;
      const want = leaves.get(sptep);
      const sp = kvm.sptep_to_sp(sptep);
      const where = sp ? `${name(sp)} SPTE ${sptep % SPTE_ENT_PER_PAGE}` : `sptep ${sptep}`;
      if (want === undefined) bad('rmap-holds-present-leaves', where, `in rmap ${key} but not a present leaf SPTE`);
      else if (want !== key) bad('rmap-matches-gfn', where, `in rmap ${key}, maps rmap ${want}`);
    }
  }
  if (inRmaps !== leaves.size) bad('rmap-covers-leaves', 'kvm', `${leaves.size} present leaf SPTEs, ${inRmaps} rmap entries`);
  const st = kvm.stat;
  if (st.pages_4k !== perLevel[1] || st.pages_2m !== perLevel[2] || st.pages_1g !== perLevel[3]) {
    bad('page-stats-match-leaves', 'kvm', `pages_4k/2m/1g ${st.pages_4k}/${st.pages_2m}/${st.pages_1g}, leaves ${perLevel[1]}/${perLevel[2]}/${perLevel[3]}`);
  }

  // Write-protection: a writable leaf maps no gfn that is write-tracked or shadowed by a valid
  // page with guest PTEs that is not unsync. Unsync pages are level-1 pages with guest PTEs at
  // gfns no upper-level page shadows; mmu_unsync counts them.
  const shadowedGfns = new Set<number>([...kvm.write_track.keys()]);
  for (const sp of live) if (kvm.sp_has_gptes(sp) && !kvm.is_obsolete_sp(sp)) shadowedGfns.add(sp.gfn);
  for (const [sptep, key] of leaves) {
    if (!(kvm.spteLo(sptep) & 2)) continue;
    const { gfn: first, level } = rmapKeyFrame(key);
    const sp = kvm.sptep_to_sp(sptep)!;
    const n = 2 ** (9 * (level - 1));
    for (const gfn of shadowedGfns) {
      if (gfn < first || gfn >= first + n) continue;
      if (level > 1) bad('no-huge-mapping-over-shadowed-gfn', `${name(sp)} SPTE ${sptep % SPTE_ENT_PER_PAGE}`, `writable huge mapping covers shadowed gfn ${gfn.toString(16)}`);
      if ((kvm.write_track.get(gfn) ?? 0) > 0) bad('write-tracked-gfn-read-only', `${name(sp)} SPTE ${sptep % SPTE_ENT_PER_PAGE}`, `writable mapping of write-tracked gfn ${gfn.toString(16)}`);
      for (const s of gfnValidPagesWithGptes(kvm, gfn)) {
        if (!s.unsync) bad('shadowed-gfn-read-only', `${name(sp)} SPTE ${sptep % SPTE_ENT_PER_PAGE}`, `writable mapping of gfn ${gfn.toString(16)} shadowed by sync ${name(s)}`);
      }
    }
  }
  let nUnsync = 0;
  for (const sp of live) {
    if (!sp.unsync) continue;
    nUnsync++;
    if (!kvm.sp_has_gptes(sp)) bad('unsync-pages-have-gptes', name(sp), 'a direct or passthrough page is unsync');
    if ((kvm.write_track.get(sp.gfn) ?? 0) > 0 && (sp.role & kvm.rb.invalid) === 0) bad('unsync-gfn-not-write-tracked', name(sp), 'unsync while an upper-level page shadows its gfn');
  }
  if (nUnsync !== st.mmu_unsync) bad('mmu-unsync-count', 'kvm', `mmu_unsync ${st.mmu_unsync}, ${nUnsync} unsync pages`);

  // Hash membership and uniqueness.
  // The buckets of the live pages are walked; every other bucket must then be empty, which the
  // count of hashed pages shows without visiting all 4096. Each slot on a chain holds its page
  // with the record the page's fields give (gfn, role, mmu_valid_gen, tdp_mmu_page) and links
  // back to the slot before it.
  const hash = kvm.mmu_page_hash;
  const hashed = new Set<KvmMmuPage>();
  const walkBucket = (b: number): number => {
    let n = 0;
    const seen = new Set<number>();
    for (let s = hash.head(b), prev = NIL; s !== NIL; prev = s, s = hash.next(s)) {
      if (seen.has(s)) {
        bad('hash-once', `slot ${s}`, `bucket ${b} comes back to slot ${s}`);
        break;
      }
      seen.add(s);
      const sp = hash.pages[s];
      if (!sp) {
        bad('hash-index-matches-page', `slot ${s}`, `bucket ${b} links free slot ${s}`);
        break;
      }
      n++;
      if (hashed.has(sp)) bad('hash-once', name(sp), 'page appears twice in the hash');
      hashed.add(sp);
      if (!live.has(sp)) bad('hash-holds-live-pages', name(sp), 'freed page still hashed');
      const want = gfnHash(sp.gfn);
      if (want !== b) bad('hash-bucket-matches-gfn', name(sp), `in bucket ${b}, gfn hashes to ${want}`);
      if (!hash.recordAgrees(s, sp)) bad('hash-index-matches-page', name(sp), `slot ${s}'s record is not the page's gfn, role and generation (hash_slot ${sp.hash_slot})`);
      if (hash.prev[s] !== prev) bad('hash-index-matches-page', name(sp), `slot ${s} links back to ${hash.prev[s]}, not ${prev}`);
    }
    return n;
  };
  const buckets = new Set<number>();
  for (const sp of live) buckets.add(gfnHash(sp.gfn));
  let inBuckets = 0;
  for (const b of buckets) inBuckets += walkBucket(b);
  if (inBuckets !== kvm.hashed) {
    // Something is hashed outside the live pages' buckets: walk them all to say what.
    for (let b = 0; b < KVM_NUM_MMU_PAGES; b++) if (!buckets.has(b)) inBuckets += walkBucket(b);
    if (inBuckets !== kvm.hashed) bad('hash-count', 'kvm', `${kvm.hashed} pages hashed, ${inBuckets} in the buckets`);
  }
  if (hash.used !== kvm.hashed) bad('hash-index-matches-page', 'kvm', `${hash.used} page hash slots in use, ${kvm.hashed} pages hashed`);
  for (const sp of live) {
    if (!hashed.has(sp)) bad('hash-holds-every-page', name(sp), 'live page missing from the hash');
  }
  const byKey = new Map<string, KvmMmuPage[]>();
  for (const sp of live) {
    if (kvm.is_obsolete_sp(sp)) continue;
    const k = `${sp.gfn}:${sp.role}`;
    const l = byKey.get(k);
    if (l) l.push(sp);
    else byKey.set(k, [sp]);
  }
  for (const l of byKey.values()) {
    if (l.length < 2) continue;
    const allowed = kvm.traits.noflush_sync_creates_duplicate && l.filter((sp) => sp.unsync).length >= l.length - 1;
    if (!allowed) bad('unique-gfn-role', name(l[0]!), `${l.length} valid pages share gfn and role ${l[0]!.role.toString(16)}`);
  }

  // Lists and counts.
  const active = new Set<KvmMmuPage>();
  for (const sp of kvm.activePages()) active.add(sp);
  let used = 0;
  for (const sp of live) {
    const invalid = (sp.role & kvm.rb.invalid) !== 0;
    if (invalid && sp.root_count === 0) bad('invalid-pages-freed-at-commit', name(sp), 'unpinned invalid page outlived its commit');
    if (!invalid && !active.has(sp)) bad('valid-pages-on-active-list', name(sp), 'not on active_mmu_pages');
    if (invalid && active.has(sp)) bad('invalid-pages-off-active-list', name(sp), 'invalid page on active_mmu_pages');
    used++;
    const refs = rootRefs.get(sp) ?? 0;
    if (refs !== sp.root_count) bad('root-count-matches-references', name(sp), `root_count ${sp.root_count}, ${refs} root references`);
  }
  if (used !== kvm.n_used_mmu_pages) bad('n-used-mmu-pages', 'kvm', `n_used_mmu_pages ${kvm.n_used_mmu_pages}, ${used} live pages`);
  let ind = 0;
  const wt = new Map<number, number>();
  for (const sp of live) {
    if ((sp.role & kvm.rb.invalid) !== 0 || !kvm.sp_has_gptes(sp)) continue;
    ind++;
    if (kvm.level(sp) > 1) wt.set(sp.gfn, (wt.get(sp.gfn) ?? 0) + 1);
  }
  if (ind !== kvm.indirect_shadow_pages) bad('indirect-shadow-pages', 'kvm', `indirect_shadow_pages ${kvm.indirect_shadow_pages}, ${ind} accounted pages`);
  for (const gfn of new Set([...wt.keys(), ...kvm.write_track.keys()])) {
    if ((wt.get(gfn) ?? 0) !== (kvm.write_track.get(gfn) ?? 0)) {
      bad('write-track-matches-pages', `gfn ${gfn.toString(16)}`, `tracked ${kvm.write_track.get(gfn) ?? 0}, ${wt.get(gfn) ?? 0} upper-level pages`);
    }
  }

  // PAE roots: DMA32, decrypted for shadow paging; default_pae_pdpte never present or MMIO.
  const paePfns: number[] = [];
  for (const sp of live) if (kvm.traits.pae_root_shadow_page && (sp.role & kvm.rb.pae_root) !== 0) paePfns.push(sp.pfn);
  const cachedPae = caches.pae_root_cached();
  if (cachedPae !== null) paePfns.push(cachedPae);
  if (mmu.pae_root?.dma32) paePfns.push(mmu.pae_root.pfn);
  for (const pfn of paePfns) {
    const info = mem.info(pfn);
    if (pfn >= DMA32_END_PFN) bad('pae-root-below-4g', `pfn ${pfn.toString(16)}`, 'PAE root above 4 GiB');
    if (!kvm.tdp_enabled && !info?.decrypted) bad('pae-root-decrypted', `pfn ${pfn.toString(16)}`, 'PAE root not decrypted with TDP off');
  }
  const d = kvm.default_pae_pdpte;
  if (d !== null && (is_shadow_present_pte(d.lo) || is_mmio_spte(kvm.masks, d.lo, d.hi))) {
    bad('default-pae-pdpte-not-present', 'default_pae_pdpte', `value ${fromHalves(d.lo, d.hi).toString(16)}`);
  }

  // Caches within capacity.
  for (const [cname, lv] of Object.entries(caches.levels())) {
    if (lv.nobjs < 0 || lv.nobjs > lv.capacity) bad('cache-within-capacity', cname, `${lv.nobjs} of ${lv.capacity}`);
  }

  // No leak: every allocated page or object is a live page's spt/gfns/header, a parent-list
  // descriptor, held by a cache, a special root, or the default_pae_pdpte page.
  // An owner is a page and what of it, or a name; described only when a violation is reported.
  type Owner = string | { sp: KvmMmuPage; what: string } | { rmap: number };
  const owned = new Map<number, Owner>();
  const describe = (o: Owner | undefined): string => (o === undefined ? 'undefined' : typeof o === 'string' ? o : 'sp' in o ? `${name(o.sp)} ${o.what}` : `rmap ${o.rmap} descriptor`);
  const own = (id: number, what: Owner) => {
    if (owned.has(id)) bad('object-owned-once', `object ${id.toString(16)}`, `${describe(owned.get(id))} and ${describe(what)}`);
    owned.set(id, what);
  };
  for (const sp of live) {
    own(sp.pfn, { sp, what: 'spt' });
    own(sp.header, { sp, what: 'header' });
    if (sp.gfns >= 0) own(sp.gfns, { sp, what: 'gfns' });
    const descs = sp.parent_ptes.descs;
    if (descs) for (const dsc of descs) own(dsc.obj, { sp, what: 'parent_ptes descriptor' });
  }
  for (const [key, list] of kvm.rmaps) for (const dsc of list.descs ?? []) own(dsc.obj, { rmap: key });
  for (const p of [mmu.pae_root, mmu.pml4_root, mmu.pml5_root]) if (p) own(p.pfn, 'special root');
  const dpage = m.mod.default_pae_pdpte;
  if (dpage !== null) own(dpage.pfn, 'default_pae_pdpte page');
  for (const id of caches.ownedObjects()) own(id, 'cache objects array');
  for (const o of mem.liveObjects()) {
    if (o.cached) {
      if (owned.has(o.id)) bad('cached-objects-unused', `object ${o.id.toString(16)}`, `cached but also ${describe(owned.get(o.id))}`);
      continue;
    }
    if (!owned.has(o.id)) bad('no-leaked-object', `object ${o.id.toString(16)}`, `${o.kind} from ${o.site}, reachable from nothing`);
  }
  for (const [id, what] of owned) if (!mem.isAllocated(id)) bad('owned-objects-allocated', `object ${id.toString(16)}`, `${describe(what)} is not allocated`);
  return out;
}


/**
 * A set of host object ids for one audit: open addressing over typed arrays, emptied by bumping a
 * generation instead of clearing, and kept from one audit to the next.
 */
class IdSet {
  private keys = new Float64Array(64);
  private stamps = new Uint32Array(64);
  private gen = 0;
  private shift = 26;

  /** Empty the set, with room for `n` ids. */
  reset(n: number): void {
    let cap = this.keys.length;
    if (cap < 2 * n) {
      while (cap < 2 * n) cap *= 2;
      this.keys = new Float64Array(cap);
      this.stamps = new Uint32Array(cap);
      this.shift = 32 - Math.log2(cap);
      this.gen = 0;
    }
    if (++this.gen === 0xffffffff) {
      this.stamps.fill(0);
      this.gen = 1;
    }
  }

  private slot(id: number): number {
    // Ids are pfns or SLAB_ID_BASE + n: the low 32 bits tell them apart well enough (a clash only probes on).
    return Math.imul(id >>> 0, 0x9e3779b1) >>> this.shift;
  }

  /** false when `id` was already in the set. */
  add(id: number): boolean {
    const mask = this.keys.length - 1;
    for (let h = this.slot(id); ; h = (h + 1) & mask) {
      if (this.stamps[h] !== this.gen) {
        this.stamps[h] = this.gen;
        this.keys[h] = id;
        return true;
      }
      if (this.keys[h] === id) return false;
    }
  }

  has(id: number): boolean {
    const mask = this.keys.length - 1;
    for (let h = this.slot(id); ; h = (h + 1) & mask) {
      if (this.stamps[h] !== this.gen) return false;
      if (this.keys[h] === id) return true;
    }
  }
}

/** auditClean's scratch, reused across audits (an audit runs to its end before the next starts). */
const scratch = {
  pages: [] as KvmMmuPage[],
  roots: [] as KvmMmuPage[],
  ids: [] as number[],
  /** One parent list's or rmap's SPTE pointers. */
  sptes: [] as number[],
  idSet: new IdSet(),
  /** scanPage's counts (C_*). */
  counts: new Float64Array(6),
  bucketStamps: new Uint32Array(0),
  bucketGen: 0,
};

/**
 * True only if auditReport would find no violation: each of its invariants checked, exactly, on
 * the same state, without its per-step Maps and Sets. It answers false (auditReport then runs)
 * on any violation and on states whose checks it does not shortcut: a live page whose pfn does
 * not map back to it in pageByPfn (two live pages on one pfn ...), a page hash or active list
 * longer than the live set, two valid pages sharing a gfn and role, a non-integer shadowed gfn.
 *
 * How the shortcuts stay exact: with live pages on distinct pfns that map back to them, an SPTE
 * pointer names one live page's entry, so "sptep is a link to sp" and "sptep is a present leaf
 * of rmap key k" are read off the SPTE itself instead of from Maps built by the scan. Parent
 * lists: every link is in its child's list (scan) and every list entry is a link, so the lists
 * have the links' sizes exactly when their entry total is the link total. Hash: walked from the
 * live pages' buckets, each node a live page in its gfn's bucket, a chain no longer than the
 * live set (no cycle, so no node twice) and as many nodes as live pages and as kvm.hashed: that
 * is every live page hashed once and nothing else hashed; pages sharing a gfn share a chain,
 * which is where (gfn, role) duplicates are looked for. Active list: no cycle (no longer than
 * the live set), no live invalid page on it, and as many live valid pages on it as there are.
 * Objects: the owned ids are distinct, allocated and not cached, and each live object not cached
 * is owned.
 */
export function auditClean(m: Machine): boolean {
  const { kvm, vcpu, mem, caches } = m;
  const live = kvm.pages;
  const rb = kvm.rb;
  const S = scratch;
  const pages = S.pages;
  pages.length = 0;
  live.fill(pages);
  const P = pages.length;
  if (P !== kvm.n_used_mmu_pages) return false;

  // Root references (root-is-live-page; counted against root_count below).
  const mmu = vcpu.mmu;
  const roots = S.roots;
  roots.length = 0;
  if (mmu.root_hpa !== INVALID_PAGE) {
    const sp = root_to_sp(kvm, mmu.root_hpa);
    if (sp) roots.push(sp);
  }
  for (const r of mmu.prev_roots) {
    if (r.hpa === INVALID_PAGE) continue;
    const sp = root_to_sp(kvm, r.hpa);
    if (!sp) return false;
    roots.push(sp);
  }
  if (mmu.pae_root) {
    for (const { pa } of paeRootTargets(mmu.pae_root)) {
      if (pa === INVALID_PAGE) continue;
      const sp = root_to_sp(kvm, pa);
      if (!sp) return false;
      roots.push(sp);
    }
  }

  // The pages: links, leaves, unsync state, root counts, accounting.
  const pageByPfn = kvm.pageByPfn;
  const st = kvm.stat;
  const counts = S.counts;
  counts.fill(0);
  let validPages = 0;
  let nUnsync = 0;
  let ind = 0;
  let paeRootPages = false;
  for (let p = 0; p < P; p++) {
    const sp = pages[p]!;
    if (sp.freed || !Number.isInteger(sp.pfn) || pageByPfn.get(sp.pfn) !== sp) return false;
    const level = sp.role & rb.levelMask;
    if (!scanPage(kvm, live, sp, level, counts)) return false;
    if (bitCount(sp.unsync_child_bitmap) !== sp.unsync_children) return false;
    const invalid = (sp.role & rb.invalid) !== 0;
    const gptes = kvm.sp_has_gptes(sp);
    if (sp.unsync) {
      if (level !== 1) return false;
      nUnsync++;
      if (!gptes) return false;
      if ((kvm.write_track.get(sp.gfn) ?? 0) > 0 && !invalid) return false;
    }
    let refs = 0;
    for (let r = 0; r < roots.length; r++) if (roots[r] === sp) refs++;
    if (refs !== sp.root_count) return false;
    if (invalid) {
      if (sp.root_count === 0) return false;
    } else {
      validPages++;
      if (gptes) {
        ind++;
        // Counted per gfn against write_track once the hash is known to hold the live pages.
        if (level > 1 && !kvm.write_track.has(sp.gfn)) return false;
      }
    }
    if ((sp.role & rb.pae_root) !== 0) paeRootPages = true;
  }
  const links = counts[C_LINKS]!;
  const leaves = counts[C_LEAVES]!;
  if (nUnsync !== st.mmu_unsync || ind !== kvm.indirect_shadow_pages) return false;
  if (st.pages_4k !== counts[C_4K] || st.pages_2m !== counts[C_2M] || st.pages_1g !== counts[C_1G]) return false;

  // Parent lists: every entry is a link to the page (the links themselves are in the lists).
  const arena = kvm.arena;
  let entries = 0;
  const sptes = S.sptes;
  for (let p = 0; p < P; p++) {
    const sp = pages[p]!;
    sptes.length = 0;
    const n = sp.parent_ptes.fill(sptes);
    entries += n;
    for (let k = 0; k < n; k++) {
      const from = liveSptePage(kvm, live, sptes[k]!);
      if (from === null) return false;
      const j = from.spt_base + 2 * spteIndex;
      const lo = arena[j]!;
      if (!is_shadow_present_pte(lo) || is_last_spte(lo, kvm.level(from))) return false;
      if (kvm.spte_to_child(lo, arena[j + 1]!) !== sp) return false;
    }
  }
  if (entries !== links) return false;

  // Rmaps: every entry a present leaf of its key, as many entries as leaves.
  let inRmaps = 0;
  const ids = S.ids;
  ids.length = 0;
  for (const [key, list] of kvm.rmaps) {
    if (list.empty) return false;
    sptes.length = 0;
    const n = list.fill(sptes);
    inRmaps += n;
    for (let k = 0; k < n; k++) {
      const sp = liveSptePage(kvm, live, sptes[k]!);
      if (sp === null) return false;
      const i = spteIndex;
      const level = kvm.level(sp);
      const lo = arena[sp.spt_base + 2 * i]!;
      if (!is_shadow_present_pte(lo) || !is_last_spte(lo, level)) return false;
      if (rmapKey(kvm_mmu_page_get_gfn(kvm, sp, i), level) !== key) return false;
    }
    const descs = list.descs;
    if (descs) for (const dsc of descs) ids.push(dsc.obj);
  }
  if (inRmaps !== leaves) return false;

  // Write-protection of the writable leaves (rare enough to scan the pages again for them).
  if (counts[C_WRITABLE] && !writableLeavesClean(m, pages)) return false;

  // Hash: from the live pages' buckets; each slot reached holds its page with the page's
  // record, linked back to the slot before it.
  const hash = kvm.mmu_page_hash;
  if (S.bucketStamps.length !== KVM_NUM_MMU_PAGES) {
    S.bucketStamps = new Uint32Array(KVM_NUM_MMU_PAGES);
    S.bucketGen = 0;
  }
  if (++S.bucketGen === 0xffffffff) {
    S.bucketStamps.fill(0);
    S.bucketGen = 1;
  }
  const stamps = S.bucketStamps;
  const gen = S.bucketGen;
  const hpages = hash.pages;
  const hprev = hash.prev;
  let hashed = 0;
  for (let p = 0; p < P; p++) {
    const b = gfnHash(pages[p]!.gfn);
    if (stamps[b] === gen) continue;
    stamps[b] = gen;
    const head = hash.head(b);
    for (let s = head, prev = NIL; s !== NIL; prev = s, s = hash.next(s)) {
      const sp = hpages[s];
      if (!sp || ++hashed > P || !live.has(sp) || gfnHash(sp.gfn) !== b) return false;
      if (hprev[s] !== prev || !hash.recordAgrees(s, sp)) return false;
      if (kvm.is_obsolete_sp(sp)) continue;
      for (let q = head; q !== s; q = hash.next(q)) {
        const o = hpages[q]!;
        if (sameKey(o.role, sp.role) && sameKey(o.gfn, sp.gfn) && !kvm.is_obsolete_sp(o)) return false;
      }
    }
  }
  if (hashed !== P || hashed !== kvm.hashed || hash.used !== hashed) return false;

  // Active list: the live valid pages, no live invalid one.
  let onActive = 0;
  let walked = 0;
  for (let sp = kvm.active_head; sp; sp = sp.link_next) {
    if (++walked > P) return false;
    if (!live.has(sp)) continue;
    if ((sp.role & rb.invalid) !== 0) return false;
    onActive++;
  }
  if (onActive !== validPages) return false;

  // Write tracking: one count per upper-level valid page with guest PTEs, nothing else. Each
  // such page's gfn is tracked (page loop); each tracked gfn's count is that of such pages,
  // all of them on its hash chain.
  for (const [gfn, n] of kvm.write_track) {
    let pagesAt = 0;
    for (let s = hash.head(gfnHash(gfn)); s !== NIL; s = hash.next(s)) {
      const sp = hpages[s]!;
      if (sameKey(sp.gfn, gfn) && (sp.role & rb.invalid) === 0 && kvm.sp_has_gptes(sp) && kvm.level(sp) > 1) pagesAt++;
    }
    if (pagesAt !== (n ?? 0)) return false;
  }

  // PAE roots and default_pae_pdpte.
  if (paeRootPages && kvm.traits.pae_root_shadow_page) {
    for (let p = 0; p < P; p++) {
      const sp = pages[p]!;
      if ((sp.role & rb.pae_root) !== 0 && !paeRootClean(m, sp.pfn)) return false;
    }
  }
  const cachedPae = caches.pae_root_cached();
  if (cachedPae !== null && !paeRootClean(m, cachedPae)) return false;
  if (mmu.pae_root?.dma32 && !paeRootClean(m, mmu.pae_root.pfn)) return false;
  const d = kvm.default_pae_pdpte;
  if (d !== null && (is_shadow_present_pte(d.lo) || is_mmio_spte(kvm.masks, d.lo, d.hi))) return false;

  // Caches within capacity.
  const levels = caches.levels();
  for (const k in levels) {
    const lv = levels[k]!;
    if (lv.nobjs < 0 || lv.nobjs > lv.capacity) return false;
  }

  // Objects: what owns each, once; each live object owned unless cached, and then not.
  for (let p = 0; p < P; p++) {
    const sp = pages[p]!;
    ids.push(sp.pfn, sp.header);
    if (sp.gfns >= 0) ids.push(sp.gfns);
    const descs = sp.parent_ptes.descs;
    if (descs) for (const dsc of descs) ids.push(dsc.obj);
  }
  if (mmu.pae_root) ids.push(mmu.pae_root.pfn);
  if (mmu.pml4_root) ids.push(mmu.pml4_root.pfn);
  if (mmu.pml5_root) ids.push(mmu.pml5_root.pfn);
  const dpage = m.mod.default_pae_pdpte;
  if (dpage !== null) ids.push(dpage.pfn);
  for (const id of caches.ownedObjects()) ids.push(id);
  const owned = S.idSet;
  owned.reset(ids.length);
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    if (!owned.add(id)) return false;
    // Allocated and not cached: so no cached object is owned (HostMemory keys each record by its id).
    if (!mem.isLiveUncached(id)) return false;
  }
  // The owned ids are distinct, live and uncached: they are all the live uncached objects
  // exactly when there are as many of them.
  return ids.length === mem.liveCount - mem.cachedCount;
}

/** liveSptePage's second result: the entry index of the SPTE pointer it resolved. */
let spteIndex = 0;

/**
 * The live page whose table holds SPTE pointer `sptep` (its index in `spteIndex`), or null when
 * the pointer names no entry of a live page (auditClean's parent-list and rmap checks).
 */
function liveSptePage(kvm: Kvm, live: LivePages, sptep: number): KvmMmuPage | null {
  const pfn = Math.floor(sptep / SPTE_ENT_PER_PAGE);
  const sp = kvm.pageByPfn.get(pfn);
  if (!sp || sp.pfn !== pfn || !live.has(sp)) return null;
  const i = sptep - pfn * SPTE_ENT_PER_PAGE;
  if (i !== (i | 0)) return null;
  spteIndex = i;
  return sp;
}

/** scanPage's counts: links to live pages, present leaves, leaves per level, writable leaves. */
const C_LINKS = 0;
const C_LEAVES = 1;
const C_4K = 2;
const C_2M = 3;
const C_1G = 4;
const C_WRITABLE = 5;

/**
 * One live page's present SPTEs, for auditClean: each link goes to a live, valid page that lists
 * it as a parent and whose unsync state the bitmap covers; leaves are counted. Four entries'
 * low halves are ORed and tested at once: is_shadow_present_pte is a test of low-half bits
 * (test/mmu/mmu-audit-clean.test.ts holds it to that), so the OR is present exactly when one of
 * the four is.
 */
function scanPage(kvm: Kvm, live: LivePages, sp: KvmMmuPage, level: number, counts: Float64Array): boolean {
  const arena = kvm.arena;
  const base = sp.spt_base;
  const end = base + 2 * SPTE_ENT_PER_PAGE;
  for (let j = base; j < end; j += 8) {
    if (!is_shadow_present_pte(arena[j]! | arena[j + 2]! | arena[j + 4]! | arena[j + 6]!)) continue;
    for (let k = j; k < j + 8; k += 2) {
      const lo = arena[k]!;
      if (!is_shadow_present_pte(lo)) continue;
      const i = (k - base) >>> 1;
      if (is_last_spte(lo, level)) {
        counts[C_LEAVES]++;
        if (level === 1) counts[C_4K]++;
        else if (level === 2) counts[C_2M]++;
        else if (level >= 3) counts[C_1G]++;
        if (is_writable_pte(lo)) counts[C_WRITABLE]++;
        continue;
      }
      const child = kvm.spte_to_child(lo, arena[k + 1]!);
      if (!child || !live.has(child)) return false;
      if (!child.parent_ptes.has(kvm.sptep(sp, i))) return false;
      counts[C_LINKS]++;
      if ((child.role & kvm.rb.invalid) !== 0) return false;
      if ((child.unsync || child.unsync_children) && !sp.testUnsyncChild(i)) return false;
    }
  }
  return true;
}

/** The number of bits set. */
function bitCount(words: Uint32Array): number {
  let n = 0;
  for (let k = 0; k < words.length; k++) {
    let x = words[k]! | 0;
    if (x === 0) continue;
    x = x - ((x >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    n += (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
  }
  return n;
}

/** Gfns or roles equal as the auditor's "gfn:role" keys compare them (as strings: NaN equals NaN). */
function sameKey(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/** pae-root-below-4g and pae-root-decrypted for one PAE root page. */
function paeRootClean(m: Machine, pfn: number): boolean {
  if (pfn >= DMA32_END_PFN) return false;
  return m.kvm.tdp_enabled || m.mem.isDecrypted(pfn);
}

/**
 * No writable leaf maps a shadowed gfn (no-huge-mapping-over-shadowed-gfn,
 * write-tracked-gfn-read-only, shadowed-gfn-read-only). The shadowed gfns are the write-tracked
 * ones and those of valid pages with guest PTEs; a 4K leaf's frame is one gfn, looked up
 * directly when every shadowed gfn is an integer (else auditReport decides).
 */
function writableLeavesClean(m: Machine, pages: readonly KvmMmuPage[]): boolean {
  const kvm = m.kvm;
  const shadowed = (sp: KvmMmuPage) => kvm.sp_has_gptes(sp) && !kvm.is_obsolete_sp(sp);
  for (const gfn of kvm.write_track.keys()) if (!Number.isInteger(gfn)) return false;
  for (const sp of pages) if (shadowed(sp) && !Number.isInteger(sp.gfn)) return false;
  const arena = kvm.arena;
  for (const sp of pages) {
    const level = kvm.level(sp);
    for (let i = 0; i < SPTE_ENT_PER_PAGE; i++) {
      const lo = arena[sp.spt_base + 2 * i]!;
      if (!is_shadow_present_pte(lo) || !is_last_spte(lo, level)) continue;
      const sptep = kvm.sptep(sp, i);
      if (!(kvm.spteLo(sptep) & 2)) continue;
      const { gfn: first, level: l } = rmapKeyFrame(rmapKey(kvm_mmu_page_get_gfn(kvm, sp, i), level));
      if (l === 1 && Number.isInteger(first)) {
        if ((kvm.write_track.get(first) ?? 0) > 0) return false;
        for (const s of gfnValidPagesWithGptes(kvm, first)) if (!s.unsync) return false;
        continue;
      }
      const n = 2 ** (9 * (l - 1));
      for (const gfn of kvm.write_track.keys()) if (gfn >= first && gfn < first + n) return false;
      for (const s of pages) if (shadowed(s) && s.gfn >= first && s.gfn < first + n) return false;
    }
  }
  return true;
}

export function formatViolation(v: Violation): string {
  return `audit: ${v.invariant}: ${v.page}: ${v.detail} (after ${v.step})`;
}
