/**
 * struct kvm_mmu_page (mmu_internal.h), and the role masks the hot paths test (src/roles/role-bits.ts,
 * exported again here for the shadow-page code).
 */
import { SLAB_ID_BASE, type HostMemory } from '../../cache/host_memory.js';
import { PteList } from './pte_list.js';

/** The unsync_child_bitmap of every page that never had an unsync child (all zero, never written). */
const NO_UNSYNC_CHILDREN = new Uint32Array(16);

/** KvmMmuPage's boolean fields and its list, as bits of one word (a field each cost 8 bytes a page). */
const TDP_MMU_PAGE = 1;
const UNSYNC = 2;
const NX_HUGE_PAGE_DISALLOWED = 4;
const POSSIBLE_NX_HUGE_PAGE = 8;
const FREED = 16;
const ON_ACTIVE = 32;
const ON_INVALID = 64;

/**
 * struct kvm_mmu_page. The page extends PteList, so its parent_ptes head (`single`, `descs`) is
 * stored in the page itself, as the kernel embeds the head, rather than in an object of its own
 * (40 bytes a page); `parent_ptes` is the page seen as that list.
 */
export class KvmMmuPage extends PteList {
  /** The page's slot in the page hash (page_hash.ts), NIL (-1) while not hashed. */
  hash_slot = -1;
  gfn: number;
  role: number;
  mmu_valid_gen: number;
  /** The boolean fields below (and `on`), one bit each. */
  private bits = 0;
  /** Creation sequence number (model only, for messages and the journal). */
  readonly id: number;
  /** Host pfn of spt (512 SPTEs as 1024 halves in the host arena), and where spt starts there (HostMemory.base(pfn)). */
  readonly pfn: number;
  readonly spt_base: number;
  /** Host pfn of the gfns page (5.x, indirect pages), -1 when none. */
  gfns: number;
  /** Where the gfns page starts in the host arena (HostMemory.base(gfns)), -1 when none. */
  readonly gfns_base: number;
  /** The kmem object of the header (mmu_page_header_cache), as its slab number (a small integer, not a boxed double). */
  private header_slab: number;
  root_count = 0;
  unsync_children = 0;
  /**
   * unsync_child_bitmap (512 bits). Storage only: every page starts on the shared all-zero
   * NO_UNSYNC_CHILDREN and gets its own array the first time a bit is set (mark_unsync), so a page
   * that never has an unsync child allocates none. Set bits through setUnsyncChild.
   */
  unsync_child_bitmap: Uint32Array = NO_UNSYNC_CHILDREN;
  write_flooding_count = 0;
  /** list_head links: active_mmu_pages (or an invalid list). */
  link_next: KvmMmuPage | null = null;
  link_prev: KvmMmuPage | null = null;
  /** The model's list of live pages (live_pages.ts): its links and the list the page is on. */
  live_next: KvmMmuPage | null = null;
  live_prev: KvmMmuPage | null = null;
  live_owner: object | null = null;


  /** The kmem object of the header (mmu_page_header_cache). Set only by the auditor's corruption tests. */
  get header(): number {
    return this.header_slab + SLAB_ID_BASE;
  }
  set header(id: number) {
    this.header_slab = id - SLAB_ID_BASE;
  }

  get tdp_mmu_page(): boolean {
    return (this.bits & TDP_MMU_PAGE) !== 0;
  }
  set tdp_mmu_page(v: boolean) {
    this.setBit(TDP_MMU_PAGE, v);
  }
  get unsync(): boolean {
    return (this.bits & UNSYNC) !== 0;
  }
  set unsync(v: boolean) {
    this.setBit(UNSYNC, v);
  }
  /** Built because an NX huge page was disallowed (nx_huge_pages.ts). */
  get nx_huge_page_disallowed(): boolean {
    return (this.bits & NX_HUGE_PAGE_DISALLOWED) !== 0;
  }
  set nx_huge_page_disallowed(v: boolean) {
    this.setBit(NX_HUGE_PAGE_DISALLOWED, v);
  }
  /** On kvm.possible_nx_huge_pages. */
  get possible_nx_huge_page(): boolean {
    return (this.bits & POSSIBLE_NX_HUGE_PAGE) !== 0;
  }
  set possible_nx_huge_page(v: boolean) {
    this.setBit(POSSIBLE_NX_HUGE_PAGE, v);
  }
  /** Freed (kvm_mmu_free_page ran): any further use is a model bug. */
  get freed(): boolean {
    return (this.bits & FREED) !== 0;
  }
  set freed(v: boolean) {
    this.setBit(FREED, v);
  }
  private setBit(mask: number, v: boolean): void {
    this.bits = v ? this.bits | mask : this.bits & ~mask;
  }
  /** Which list `link` is on. */
  get on(): 'active' | 'invalid' | null {
    const b = this.bits;
    return b & ON_ACTIVE ? 'active' : b & ON_INVALID ? 'invalid' : null;
  }
  set on(v: 'active' | 'invalid' | null) {
    this.bits = (this.bits & ~(ON_ACTIVE | ON_INVALID)) | (v === 'active' ? ON_ACTIVE : v === 'invalid' ? ON_INVALID : 0);
  }

  /** The host memory spt lives in. */
  private readonly mem: HostMemory;

  /** sp->parent_ptes: the SPTEs that point at this page (the list head is the page's own fields). */
  get parent_ptes(): PteList {
    return this;
  }

  constructor(id: number, gfn: number, role: number, pfn: number, mem: HostMemory, gfns: number, header: number, gen: number, gfns_base = -1) {
    super();
    this.id = id;
    this.gfn = gfn;
    this.role = role;
    // `| 0` on the integer fields: the caches hand pfns and slab ids out of Float64Arrays, and
    // without it %DebugPrint showed these fields holding HeapNumbers rather than small integers.
    this.pfn = pfn | 0;
    this.mem = mem;
    this.spt_base = mem.base(pfn);
    this.gfns = gfns | 0;
    this.gfns_base = gfns_base;
    this.header_slab = (header - SLAB_ID_BASE) | 0;
    this.mmu_valid_gen = gen;
  }

  /** spt as a view of the host arena (HostMemory.words): read it again after a page allocation. */
  get spt(): Uint32Array {
    return this.mem.words(this.pfn);
  }

  /** __set_bit(i, unsync_child_bitmap), the page's own array made on first use. */
  setUnsyncChild(i: number): void {
    if (this.unsync_child_bitmap === NO_UNSYNC_CHILDREN) this.unsync_child_bitmap = new Uint32Array(16);
    this.unsync_child_bitmap[i >>> 5]! |= 1 << (i & 31);
  }

  /** __clear_bit(i, unsync_child_bitmap) (the shared zero bitmap is never written). */
  clearUnsyncChild(i: number): void {
    if (this.unsync_child_bitmap !== NO_UNSYNC_CHILDREN) this.unsync_child_bitmap[i >>> 5]! &= ~(1 << (i & 31));
  }

  testUnsyncChild(i: number): boolean {
    return (this.unsync_child_bitmap[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
}

/** The role masks the shadow-page code tests (one table per profile, shared with kvm_mmu_child_role). */
export { roleBits, type RoleBits } from '../../roles/role-bits.js';
