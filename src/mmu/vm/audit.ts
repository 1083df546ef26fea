/**
 * The invariant auditor (the model's mmu_audit.c, kept alive by running after every step of every
 * test). Each violation names the invariant, the page and the step.
 */
import { fromHalves } from '../../bits/u64.js';
import { INVALID_PAGE, SPTE_ENT_PER_PAGE } from '../pages/constants.js';
import { gfnHash } from '../pages/kvm.js';
import { is_last_spte, is_mmio_spte, is_shadow_present_pte, spte_to_pfn } from '../spte/spte.js';
import type { Machine } from './machine.js';
import type { KvmMmuPage } from '../pages/page.js';
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

export function audit(m: Machine, step: string): Violation[] {
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
    for (const p of sp.parent_ptes) {
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
    for (const sptep of list) {
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
  // count of hashed pages shows without visiting all 4096.
  const hashed = new Set<KvmMmuPage>();
  const walkBucket = (b: number): number => {
    let n = 0;
    for (let sp = kvm.mmu_page_hash[b] ?? null; sp; sp = sp.hash_next) {
      n++;
      if (hashed.has(sp)) bad('hash-once', name(sp), 'page appears twice in the hash');
      hashed.add(sp);
      if (!live.has(sp)) bad('hash-holds-live-pages', name(sp), 'freed page still hashed');
      const want = gfnHash(sp.gfn);
      if (want !== b) bad('hash-bucket-matches-gfn', name(sp), `in bucket ${b}, gfn hashes to ${want}`);
    }
    return n;
  };
  const buckets = new Set<number>();
  for (const sp of live) buckets.add(gfnHash(sp.gfn));
  let inBuckets = 0;
  for (const b of buckets) inBuckets += walkBucket(b);
  if (inBuckets !== kvm.hashed) {
    // Something is hashed outside the live pages' buckets: walk them all to say what.
    for (let b = 0; b < kvm.mmu_page_hash.length; b++) if (!buckets.has(b)) inBuckets += walkBucket(b);
    if (inBuckets !== kvm.hashed) bad('hash-count', 'kvm', `${kvm.hashed} pages hashed, ${inBuckets} in the buckets`);
  }
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


export function formatViolation(v: Violation): string {
  return `audit: ${v.invariant}: ${v.page}: ${v.detail} (after ${v.step})`;
}
