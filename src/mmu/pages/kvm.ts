/**
 * The VM-wide shadow-MMU state (struct kvm_arch parts): the page hash, active_mmu_pages,
 * mmu_valid_gen, page counts, write tracking and statistics. Page tables are the host pages
 * themselves (512 entries as 1024 32-bit halves in the host's arena, at HostMemory.base(pfn));
 * an SPTE pointer (`sptep`) is `pfn * 512 + index`, and `spteOff(sptep)` is where its low half
 * sits in `arena`.
 */
import { LivePages } from './live_pages.js';
import type { Memslot } from '../../guest/memory.js';
import { ShadowMmuError } from '../../bits/errors.js';
import { fromHalves } from '../../bits/u64.js';
import type { HostMemory } from '../../cache/host_memory.js';
import { WarnLog } from '../../cache/warn.js';
import type { Profile } from '../../profiles/index.js';
import type { MmuTraits } from '../../profiles/traits/mmu.js';
import { NO_TRACE, type TraceEvent, type TraceSink } from '../../trace/events.js';
import { KVM_MIN_ALLOC_MMU_PAGES, SPTE_ENT_PER_PAGE } from './constants.js';
import { KvmMmuPage, roleBits, type RoleBits } from './page.js';
import { GfnCounts } from './gfn_counts.js';
import { PageHash } from './page_hash.js';
import { RmapTable } from './rmap_table.js';
import type { DefaultPaePdpte } from '../spte/pae_pdpte.js';
import { is_shadow_present_pte, spte_to_pfn } from '../spte/spte.js';
import type { SpteMasks } from '../spte/spte_masks.js';

export interface KvmStats {
  mmu_cache_miss: number;
  max_mmu_page_hash_collisions: number;
  mmu_unsync: number;
  mmu_shadow_zapped: number;
  mmu_recycled: number;
  remote_tlb_flush: number;
  /** Every kvm_flush_remote_tlbs call (kvm_main.c: counted before the arch flush). */
  remote_tlb_flush_requests: number;
  /** kvm_mmu_pte_write / kvm_mmu_track_write. */
  mmu_pte_write: number;
  mmu_pde_zapped: number;
  mmu_flooded: number;
  /** Leaf SPTEs per level (kvm_update_page_stats). */
  pages_4k: number;
  pages_2m: number;
  pages_1g: number;
  /** 6.x rmap_add: the longest rmap seen before an add. */
  max_mmu_rmap_size: number;
}

export { gfnHash } from './page_hash.js';

/** What the VM needs to know of its vCPUs: where to post requests. */
export interface VcpuRequests {
  readonly requests: Set<string>;
}

/**
 * page_private (set_page_private / page_header) of the spt pages: the shadow page by the host
 * arena slot of its pfn, so sptep_to_sp is two array loads, not a Map lookup. Map-like get / set /
 * delete; a slot's entry counts only for the pfn it was set for.
 */
export class PageByPfn {
  private readonly bySlot: (KvmMmuPage | undefined)[] = [];
  constructor(private readonly mem: HostMemory) {}

  get(pfn: number): KvmMmuPage | undefined {
    const s = this.mem.slotIndex(pfn);
    if (s < 0) return undefined;
    const sp = this.bySlot[s];
    return sp !== undefined && sp.pfn === pfn ? sp : undefined;
  }

  has(pfn: number): boolean {
    return this.get(pfn) !== undefined;
  }

  set(pfn: number, sp: KvmMmuPage): this {
    const s = this.mem.slotIndex(pfn);
    if (s < 0) throw new ShadowMmuError('ESTATE', `set_page_private: pfn ${pfn.toString(16)} is not an allocated page`);
    while (this.bySlot.length < s) this.bySlot.push(undefined);
    this.bySlot[s] = sp;
    return this;
  }

  delete(pfn: number): boolean {
    const s = this.mem.slotIndex(pfn);
    if (s < 0 || this.bySlot[s]?.pfn !== pfn) return false;
    this.bySlot[s] = undefined;
    return true;
  }
}

export class Kvm {
  readonly profile: Profile;
  readonly traits: MmuTraits;
  readonly rb: RoleBits;
  readonly tdp_enabled: boolean;
  readonly mem: HostMemory;
  readonly masks: SpteMasks;
  /** RFC 5/6 default_pae_pdpte (module init); null when the profile has none. */
  readonly default_pae_pdpte: DefaultPaePdpte | null;
  /** mmu_page_hash: per bucket the pages' slots, newest first, as compact records (page_hash.ts). */
  readonly mmu_page_hash = new PageHash();
  /** Pages added to the hash and not removed (the auditor's check on the buckets it does not walk). */
  hashed = 0;
  /** active_mmu_pages: head = newest. */
  active_head: KvmMmuPage | null = null;
  active_tail: KvmMmuPage | null = null;
  /** page_private of spt pages: the shadow page a pfn backs. */
  readonly pageByPfn: PageByPfn;
  mmu_valid_gen = 0;
  n_used_mmu_pages = 0;
  n_max_mmu_pages = KVM_MIN_ALLOC_MMU_PAGES;
  indirect_shadow_pages = 0;
  /** KVM_PAGE_TRACK_WRITE counts per gfn (per memslot as slot->arch.gfn_write_track; gfn_counts.ts). */
  readonly write_track = new GfnCounts();
  /** disallow_lpage counts per gfn (huge pages disallowed because the gfn is shadowed). */
  readonly lpage_disallowed = new GfnCounts();
  /**
   * Work the page hash did (hash-chain lookups and the pages probed), for the bench's
   * deterministic operation counts per path. Not a kernel statistic.
   */
  readonly work = { lookups: 0, probes: 0 };
  /** The kvm.nx_huge_pages parameter (HostConfig; default off). */
  nx_huge_pages = false;
  /** The host backs guest memory with 2M pages where it can (transparent huge pages; HostConfig.thp). */
  host_thp = false;
  /** kvm->arch.possible_nx_huge_pages, oldest first, and kvm->stat.nx_lpage_splits. */
  readonly possible_nx_huge_pages: KvmMmuPage[] = [];
  nx_lpage_splits = 0;
  /** kvm_memslots(kvm)->generation of address space 0 (mmio.ts). */
  memslots_generation = 0;
  /** The host's eager_zap_unsync_children parameter (HostConfig; upstream behaviour: true). */
  eager_zap_unsync_children = true;
  readonly stat: KvmStats = {
    mmu_cache_miss: 0,
    max_mmu_page_hash_collisions: 0,
    mmu_unsync: 0,
    mmu_shadow_zapped: 0,
    mmu_recycled: 0,
    remote_tlb_flush: 0,
    remote_tlb_flush_requests: 0,
    mmu_pte_write: 0,
    mmu_pde_zapped: 0,
    mmu_flooded: 0,
    pages_4k: 0,
    pages_2m: 0,
    pages_1g: 0,
    max_mmu_rmap_size: 0,
  };
  /**
   * Leaf rmaps: the SPTEs mapping a gfn at a level (gfn_to_rmap), read by rmapKey; heads per
   * memslot as slot->arch.rmap (rmap_table.ts; `rmaps.slots` is set when the VM has a guest).
   */
  readonly rmaps = new RmapTable();
  /** Empty invalid_list arrays for kvm_mmu_get_page to reuse. */
  readonly invalid_lists: KvmMmuPage[][] = [];
  readonly vcpus: VcpuRequests[] = [];
  /** Every live page (allocated, not yet freed), for the auditor. */
  readonly pages = new LivePages();
  /** RFC: how a pae_root page is freed (the vCPU caches' mmu_free_pae_root). */
  free_pae_root: (pfn: number) => void = (pfn) => this.mem.free_page(pfn);
  private nextId = 1;
  /** kmem_cache_free of a pte_list_desc as one reusable callback (pte_list_remove's). */
  readonly free_pte_list_desc = (obj: number): void => this.mem.kmem_cache_free('pte_list_desc', obj);
  trace: TraceSink = NO_TRACE;
  /** WARN_ON_ONCEs the MMU's paths hit (the model records them and carries on, as the kernel). */
  readonly warns = new WarnLog();

  constructor(profile: Profile, tdp_enabled: boolean, mem: HostMemory, masks: SpteMasks, default_pae_pdpte: DefaultPaePdpte | null) {
    this.profile = profile;
    this.traits = profile.mmu;
    this.rb = roleBits(profile);
    this.tdp_enabled = tdp_enabled;
    this.mem = mem;
    this.pageByPfn = new PageByPfn(mem);
    this.masks = masks;
    this.default_pae_pdpte = default_pae_pdpte;
  }

  emit(ev: TraceEvent): void {
    this.trace(ev);
  }

  /** Whether anyone listens (hot paths skip building records otherwise). */
  get tracing(): boolean {
    return this.trace !== NO_TRACE;
  }

  newPageId(): number {
    return this.nextId++;
  }

  level(sp: KvmMmuPage): number {
    return sp.role & this.rb.levelMask;
  }

  /** 5.x !direct; 6.x sp_has_gptes: !direct && !passthrough. */
  sp_has_gptes(sp: KvmMmuPage): boolean {
    return (sp.role & (this.rb.direct | this.rb.passthrough)) === 0;
  }

  /** @kernel mmu.c is_obsolete_sp */
  is_obsolete_sp(sp: KvmMmuPage): boolean {
    return (sp.role & this.rb.invalid) !== 0 || (!sp.tdp_mmu_page && sp.mmu_valid_gen !== this.mmu_valid_gen);
  }

  /** hlist_add_head into the gfn's bucket. */
  hashAdd(sp: KvmMmuPage): void {
    this.mmu_page_hash.add(sp);
    this.hashed++;
  }

  /** hlist_del from the page's bucket. */
  hashDel(sp: KvmMmuPage): void {
    this.mmu_page_hash.del(sp);
    this.hashed--;
  }

  /** sp.role = role, the page hash's copy too (every role write after hashAdd comes here). */
  setRole(sp: KvmMmuPage, role: number): void {
    sp.role = role;
    this.mmu_page_hash.setRole(sp);
  }

  /** list_add at the head of active_mmu_pages. */
  activeAddHead(sp: KvmMmuPage): void {
    sp.link_prev = null;
    sp.link_next = this.active_head;
    if (this.active_head) this.active_head.link_prev = sp;
    else this.active_tail = sp;
    this.active_head = sp;
    sp.on = 'active';
  }

  activeDel(sp: KvmMmuPage): void {
    if (sp.on !== 'active') return;
    if (sp.link_prev) sp.link_prev.link_next = sp.link_next;
    else this.active_head = sp.link_next;
    if (sp.link_next) sp.link_next.link_prev = sp.link_prev;
    else this.active_tail = sp.link_prev;
    sp.link_next = sp.link_prev = null;
    sp.on = null;
  }

  /** Pages of active_mmu_pages from the head (newest) to the tail. */
  *activePages(): IterableIterator<KvmMmuPage> {
    for (let p = this.active_head; p; p = p.link_next) yield p;
  }

  /** sptep_to_sp */
  sptep_to_sp(sptep: number): KvmMmuPage | null {
    return this.pageByPfn.get(Math.floor(sptep / SPTE_ENT_PER_PAGE)) ?? null;
  }

  /** to_shadow_page of a physical address (any offset within the page). */
  to_shadow_page(pa: number): KvmMmuPage | null {
    return this.pageByPfn.get(Math.floor(pa / 4096)) ?? null;
  }

  /** The shadow page an SPTE's address bits (51:12) point at. */
  spte_to_child(lo: number, hi: number): KvmMmuPage | null {
    return this.pageByPfn.get(spte_to_pfn(lo, hi)) ?? null;
  }

  sptep(sp: KvmMmuPage, index: number): number {
    return sp.pfn * SPTE_ENT_PER_PAGE + index;
  }

  /** The page an SPTE pointer lives in, as a view (cold callers; hot ones use arena + spteOff). */
  words(sptep: number): Uint32Array {
    return this.mem.words(Math.floor(sptep / SPTE_ENT_PER_PAGE));
  }

  /**
   * Point every per-memslot table (the rmap heads, gfn_write_track, lpage_info) at the guest's
   * memslots: the kernel allocates them per slot (kvm_arch_prepare_memory_region); a slot added
   * later joins on first use.
   */
  followMemslots(slots: readonly Memslot[]): void {
    this.rmaps.slots = slots;
    this.write_track.slots = slots;
    this.lpage_disallowed.slots = slots;
  }

  /** The host's page arena (HostMemory.arena). */
  get arena(): Uint32Array {
    return this.mem.arena;
  }

  /** Where the SPTE's low half sits in `arena` (its high half follows). */
  spteOff(sptep: number): number {
    const pfn = Math.floor(sptep / SPTE_ENT_PER_PAGE);
    return this.mem.base(pfn) + 2 * (sptep - pfn * SPTE_ENT_PER_PAGE);
  }

  spteLo(sptep: number): number {
    return this.mem.arena[this.spteOff(sptep)]!;
  }

  spteHi(sptep: number): number {
    return this.mem.arena[this.spteOff(sptep) + 1]!;
  }

  spte64(sptep: number): bigint {
    return fromHalves(this.spteLo(sptep), this.spteHi(sptep));
  }

  isPresent(sptep: number): boolean {
    return is_shadow_present_pte(this.spteLo(sptep));
  }

  /**
   * @kernel kvm_main.c kvm_flush_remote_tlbs
   * Every request is counted, and every vCPU gets KVM_REQ_TLB_FLUSH (serviced at its next
   * entry). remote_tlb_flush counts only a flush the arch hook did itself (Hyper-V; x86 without
   * it says not supported) or one where kvm_make_all_cpus_request kicked a vCPU running in guest
   * mode on another CPU. The model runs its vCPUs one at a time, so no vCPU is ever in guest mode
   * while another flushes: the counter stays 0, as recorded on real KVM with one vCPU.
   * The model keeps no TLB; the range variants of x86 without Hyper-V fall back to this.
   */
  kvm_flush_remote_tlbs(): void {
    this.stat.remote_tlb_flush_requests++;
    const kicked_another_vcpu = false;
    if (kicked_another_vcpu) this.stat.remote_tlb_flush++;
    for (const v of this.vcpus) v.requests.add('KVM_REQ_TLB_FLUSH');
  }

  /** A state the kernel would BUG/WARN on and the model refuses. */
  bug(msg: string): never {
    throw new ShadowMmuError('ESTATE', msg);
  }
}
