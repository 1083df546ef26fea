/**
 * Finding or creating a shadow page (mmu.c kvm_mmu_get_page in 5.x; kvm_mmu_find_shadow_page,
 * kvm_mmu_alloc_shadow_page and __kvm_mmu_get_shadow_page in 6.x) and its allocation.
 */
import { account_shadowed } from './account.js';
import { KvmMmuPage } from './page.js';
import { gfnHash, NIL, R_GFN_LO, R_NEXT, R_ROLE, REC_WORDS, recordObsolete } from './page_hash.js';
import { pageFields } from './trace.js';
import type { Kvm } from './kvm.js';
import type { Vcpu } from './vcpu.js';
import { kvm_mmu_commit_zap_page, kvm_mmu_prepare_zap_page } from './zap.js';
import { KVMMMU } from '../../trace/table.js';

/**
 * @kernel mmu.c kvm_sync_page
 * 5.x returns a bool (false on failure *and* on a clean sync); 6.x the int. Both zap on failure.
 */
export function kvm_sync_page(vcpu: Vcpu, sp: KvmMmuPage, invalid_list: KvmMmuPage[]): number {
  const ret = vcpu.mmu.sync_page(vcpu, sp);
  if (ret < 0) kvm_mmu_prepare_zap_page(vcpu.kvm, sp, invalid_list);
  return ret;
}

/**
 * @kernel mmu.c kvm_mmu_alloc_page
 * (6.x kvm_mmu_alloc_shadow_page; RFC 3/6 passes gfn and role, and a pae_root role takes its
 * page from the vCPU's PAE-root cache.)
 */
export function kvm_mmu_alloc_page(vcpu: Vcpu, gfn: number, role: number): KvmMmuPage {
  const kvm = vcpu.kvm;
  const pae = kvm.traits.pae_root_shadow_page && (role & kvm.rb.pae_root) !== 0;
  if (pae && vcpu.mem.pae_root_cached() === null) {
    kvm.bug('kvm_mmu_alloc_page: a pae_root page was requested but the PAE-root cache is empty (the kernel would use a NULL spt)');
  }
  const header = vcpu.mem.alloc('mmu_page_header_cache');
  const pfn = pae ? vcpu.mem.take_pae_root()! : vcpu.mem.alloc('mmu_shadow_page_cache');
  const direct = (role & kvm.rb.direct) !== 0;
  const promoted = (role & kvm.rb.level_promoted) !== 0;
  const level = role & kvm.rb.levelMask;
  const needGfns = !direct && !promoted && level <= kvm.traits.gfn_array_max_level;
  const gfns = needGfns ? vcpu.mem.alloc('mmu_gfn_array_cache') : -1;
  // spt holds what its cache put there: zeroes (5.x __GFP_ZERO), SHADOW_NONPRESENT_VALUE (6.x
  // init_value), or for a PAE root the RFC's default PDPTEs; set_page_private links it back.
  const sp = new KvmMmuPage(kvm.newPageId(), gfn, role, pfn, kvm.mem, gfns, header, kvm.mmu_valid_gen, gfns >= 0 ? kvm.mem.base(gfns) : -1);
  kvm.pageByPfn.set(pfn, sp);
  kvm.activeAddHead(sp);
  kvm.n_used_mmu_pages++;
  kvm.pages.add(sp);
  return sp;
}

/**
 * The hash-walk part of get_page: a page to use, or null for a miss. for_each_valid_sp over the
 * gfn's bucket reads the page hash's records (gfn, role, is_obsolete_sp) and takes the page
 * object only when a probe gets past the gfn test.
 */
function find_page(vcpu: Vcpu, gfn: number, role: number): KvmMmuPage | null {
  const kvm = vcpu.kvm;
  const hash = kvm.mmu_page_hash;
  const rec = hash.rec;
  const invalid = kvm.rb.invalid;
  const gen = kvm.mmu_valid_gen;
  const lo = gfn | 0;
  const role32 = role | 0;
  let collisions = 0;
  let found: KvmMmuPage | null = null;
  // Taken only when a probe zaps or syncs: a plain hit leaves the pool of lists untouched.
  let invalid_list: KvmMmuPage[] | null = null;
  // Probes are counted as they are made, so a call below that throws leaves the count whole.
  const work = kvm.work;
  work.lookups++;
  for (let s = hash.heads[gfnHash(gfn)]!; s !== NIL; s = rec[s * REC_WORDS + R_NEXT]!) {
    const o = s * REC_WORDS;
    work.probes++;
    if (rec[o + R_GFN_LO] !== lo) {
      if (!recordObsolete(rec, o, invalid, gen)) collisions++;
      continue;
    }
    if (recordObsolete(rec, o, invalid, gen)) continue;
    const sp = hash.pages[s]!;
    // The record holds an integer gfn's bits; the page's own gfn settles the rest.
    if (sp.gfn !== gfn) {
      collisions++;
      continue;
    }
    if (rec[o + R_ROLE] !== role32) {
      if ((role & kvm.rb.levelMask) > 1 && sp.unsync) invalid_list = zap_unsync_probe(kvm, sp, invalid_list);
      continue;
    }
    if (!hit_skips_unsync(vcpu, sp)) {
      if (sp.unsync) {
        invalid_list ??= takeInvalidList(kvm);
        if (!sync_on_hit(vcpu, sp, invalid_list)) break;
      }
      sp.write_flooding_count = 0;
    }
    found = sp;
    break;
  }
  if (collisions > kvm.stat.max_mmu_page_hash_collisions) kvm.stat.max_mmu_page_hash_collisions = collisions;
  // Set last, just before the return, so a get_page nested in a sync or zap above has already
  // read its own list.
  findList = invalid_list;
  return found;
}

/**
 * Whether a hit leaves the page's unsync state alone: in 5.x when the MMU maps directly
 * (vcpu->arch.mmu->direct_map), in 6.0+ when the page is direct (sp->role.direct).
 */
function hit_skips_unsync(vcpu: Vcpu, sp: KvmMmuPage): boolean {
  const kvm = vcpu.kvm;
  return kvm.traits.hit_skips_unsync_when === 'mmu_direct' ? vcpu.mmu.ctx.direct_map : (sp.role & kvm.rb.direct) !== 0;
}

/**
 * A probe that met an unsync page of the gfn under another role (a level > 1 lookup) zaps it,
 * onto the list find_page took (taken now if this is its first). Apart from find_page so that
 * its loop stays small enough for V8 to inline (its bytecode was 601 bytes, over the 460 a
 * function may have to be inlined), as are the rare branches below.
 */
function zap_unsync_probe(kvm: Kvm, sp: KvmMmuPage, invalid_list: KvmMmuPage[] | null): KvmMmuPage[] {
  invalid_list ??= takeInvalidList(kvm);
  kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
  return invalid_list;
}

/**
 * The hit's sync of an unsync page: whether the page may be used. It may not when the sync
 * failed (the page is zapped onto invalid_list) or, in 5.x, when it was clean (kvm_sync_page
 * returned false for both, and the caller then made a duplicate page).
 */
function sync_on_hit(vcpu: Vcpu, sp: KvmMmuPage, invalid_list: KvmMmuPage[]): boolean {
  const kvm = vcpu.kvm;
  const ret = kvm_sync_page(vcpu, sp, invalid_list);
  if (ret < 0 || (ret === 0 && kvm.traits.noflush_sync_creates_duplicate)) return false;
  if (ret > 0) kvm.kvm_flush_remote_tlbs();
  return true;
}

/**
 * The invalid_list the last find_page took (for the pages its probes zapped), or null when it
 * took none; kvm_mmu_get_page reads it right after the call. A module variable rather than a
 * second result, so a hit allocates nothing.
 */
let findList: KvmMmuPage[] | null = null;

/**
 * A local invalid_list, from a small stack of empty ones (commit empties it). One that an error
 * left behind is simply not reused.
 */
function takeInvalidList(kvm: Kvm): KvmMmuPage[] {
  return kvm.invalid_lists.pop() ?? [];
}

/** kvm_mmu_commit_zap_page of a list find_page took, which then goes back to the stack. */
function commitInvalidList(kvm: Kvm, invalid_list: KvmMmuPage[]): void {
  kvm_mmu_commit_zap_page(kvm, invalid_list);
  if (invalid_list.length === 0 && kvm.invalid_lists.length < 8) kvm.invalid_lists.push(invalid_list);
}

/**
 * Whether the last kvm_mmu_get_page created its page (model only: the scenario runner's journal
 * reads it right after the call). A field instead of a { sp, created } result, so a hit
 * allocates nothing.
 */
export const lastGetPage = { created: false };

/**
 * A hit's trace event and the commit of what its probes zapped, in the kernel's order: 5.x
 * traces the hit before kvm_mmu_commit_zap_page, 6.x (__kvm_mmu_get_shadow_page) after.
 */
function hit_tail(kvm: Kvm, sp: KvmMmuPage, invalid_list: KvmMmuPage[] | null): void {
  if (!kvm.traits.commit_before_alloc && kvm.tracing) kvm.emit({ event: KVMMMU.kvm_mmu_get_page, created: false, ...pageFields(sp) });
  if (invalid_list !== null) commitInvalidList(kvm, invalid_list);
  if (kvm.traits.commit_before_alloc && kvm.tracing) kvm.emit({ event: KVMMMU.kvm_mmu_get_page, created: false, ...pageFields(sp) });
}

/**
 * @kernel mmu.c kvm_mmu_get_page
 * The caller passes the complete role (5.x: computed by sp_role at the top of this function in
 * the kernel; 6.x: by mmu_alloc_root or kvm_mmu_child_role). Returns the page; lastGetPage says
 * whether it was created.
 */
export function kvm_mmu_get_page(vcpu: Vcpu, gfn: number, role: number): KvmMmuPage {
  const kvm = vcpu.kvm;
  let sp = find_page(vcpu, gfn, role);
  let invalid_list = findList;
  findList = null;
  if (sp) {
    // A plain hit (nothing zapped, no listener) tests two words and returns.
    if (invalid_list !== null || kvm.tracing) hit_tail(kvm, sp, invalid_list);
    lastGetPage.created = false;
    return sp;
  }
  kvm.stat.mmu_cache_miss++;
  if (kvm.traits.commit_before_alloc && invalid_list !== null) {
    commitInvalidList(kvm, invalid_list);
    // Back on the stack now (or dropped): the commit after alloc has nothing left to do.
    invalid_list = null;
  }
  sp = kvm_mmu_alloc_page(vcpu, gfn, role);
  kvm.hashAdd(sp);
  if (kvm.sp_has_gptes(sp)) account_shadowed(kvm, sp);
  if (kvm.tracing) kvm.emit({ event: KVMMMU.kvm_mmu_get_page, created: true, ...pageFields(sp) });
  if (invalid_list !== null) commitInvalidList(kvm, invalid_list);
  lastGetPage.created = true;
  return sp;
}
