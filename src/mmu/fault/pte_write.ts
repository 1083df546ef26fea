/**
 * Emulated writes to shadowed guest page tables (mmu.c kvm_mmu_pte_write, 6.x
 * kvm_mmu_track_write): the page-track notifier that runs after the emulator wrote guest
 * memory. Misaligned writes and write flooding zap the shadow page; otherwise the SPTEs the
 * written gPTE maps are zapped (never rebuilt from the new value).
 */
import { mmu_page_zap_pte } from '../pages/link.js';
import type { KvmMmuPage } from '../pages/page.js';
import { is_shadow_present_pte } from '../spte/spte.js';
import { kvm_mmu_remote_flush_or_zap } from './sync.js';
import { gfnValidPagesWithGptes } from '../pages/unsync.js';
import type { Vcpu } from '../pages/vcpu.js';
import { kvm_mmu_prepare_zap_page } from '../pages/zap.js';

/** @kernel mmu.c detect_write_flooding: level-1 pages never flood; others at the 3rd write. */
export function detect_write_flooding(vcpu: Vcpu, sp: KvmMmuPage): boolean {
  if (vcpu.kvm.level(sp) === 1) return false;
  sp.write_flooding_count++;
  return sp.write_flooding_count >= 3;
}

/** The page's gPTE size from role bit 4 (5.16 gpte_is_8_bytes, later has_4_byte_gpte). */
function gpteSize(vcpu: Vcpu, sp: KvmMmuPage): number {
  const kvm = vcpu.kvm;
  const four = kvm.profile.roles.gpte_bit === 'has_4_byte_gpte' ? (sp.role & 0x10) !== 0 : (sp.role & 0x10) === 0;
  return four ? 4 : 8;
}

/** @kernel mmu.c detect_write_misaligned */
export function detect_write_misaligned(vcpu: Vcpu, sp: KvmMmuPage, gpa: number, bytes: number): boolean {
  const offset = gpa & 4095;
  const pte_size = gpteSize(vcpu, sp);
  if (!(offset & (pte_size - 1)) && bytes === 1) return false;
  return ((offset ^ (offset + bytes - 1)) & ~(pte_size - 1)) !== 0 || bytes < 4;
}

/** @kernel mmu.c get_written_sptes: the first SPTE index and the count, or null (other quadrant). */
export function get_written_sptes(vcpu: Vcpu, sp: KvmMmuPage, gpa: number): { index: number; n: number } | null {
  const kvm = vcpu.kvm;
  let page_offset = gpa & 4095;
  let n = 1;
  if (gpteSize(vcpu, sp) === 4) {
    page_offset <<= 1;
    if (kvm.level(sp) === 2) {
      page_offset &= ~7;
      page_offset <<= 1;
      n = 2;
    }
    const quadrant = page_offset >>> 12;
    page_offset &= 0xfff;
    if (quadrant !== (sp.role & kvm.rb.quadrantMask) >>> 5) return null;
  }
  return { index: page_offset >>> 3, n };
}

/**
 * @kernel mmu.c mmu_pte_write_fetch_gpte
 * With CR4.PAE a 4-byte write is widened to its aligned 8-byte gPTE; 4- and 8-byte writes read
 * the (new) gPTE, anything else gives 0.
 */
function mmu_pte_write_fetch_gpte(vcpu: Vcpu, gpa: number, bytes: number): { gpa: number; bytes: number; gentry_nonzero: boolean } {
  const g = vcpu.guest!;
  // is_pae(vcpu): CR4.PAE, i.e. a PAE or 64-bit guest.
  if (bytes === 4 && (g.walk.kind === 'pae' || g.walk.kind === 'pt64')) {
    gpa -= gpa & 7;
    bytes = 8;
  }
  let nz = false;
  if (bytes === 4 || bytes === 8) {
    const w = g.walker.w;
    if (g.mem.read(gpa, bytes, w)) nz = (w.lo | (bytes === 8 ? w.hi : 0)) !== 0;
  }
  return { gpa, bytes, gentry_nonzero: nz };
}

/**
 * @kernel mmu.c kvm_mmu_pte_write
 * `gpa`/`bytes` as the emulator wrote them (memory already holds the new bytes).
 */
export function kvm_mmu_pte_write(vcpu: Vcpu, gpa: number, bytes: number): void {
  const kvm = vcpu.kvm;
  const gfn = Math.floor(gpa / 4096);
  if (!kvm.indirect_shadow_pages) return;
  const f = mmu_pte_write_fetch_gpte(vcpu, gpa, bytes);
  gpa = f.gpa;
  bytes = f.bytes;
  kvm.stat.mmu_pte_write++;
  const invalid_list: KvmMmuPage[] = [];
  let flush = false;
  for (const sp of gfnValidPagesWithGptes(kvm, gfn)) {
    // Zapped earlier in this loop: no longer valid (for_each_gfn_valid_sp_with_gptes skips it).
    if (kvm.is_obsolete_sp(sp)) continue;
    // The RFC skips its promoted pages: they only bridge levels, no guest entry is shadowed.
    if ((sp.role & kvm.rb.level_promoted) !== 0) continue;
    if (detect_write_misaligned(vcpu, sp, gpa, bytes) || detect_write_flooding(vcpu, sp)) {
      kvm_mmu_prepare_zap_page(kvm, sp, invalid_list);
      kvm.stat.mmu_flooded++;
      continue;
    }
    const w = get_written_sptes(vcpu, sp, gpa);
    if (!w) continue;
    for (let k = 0; k < w.n; k++) {
      const i = w.index + k;
      const present = is_shadow_present_pte(sp.spt[2 * i]!);
      mmu_page_zap_pte(kvm, sp, i, null, () => 0);
      if (f.gentry_nonzero && kvm.level(sp) !== 1) kvm.stat.mmu_pde_zapped++;
      if (present) flush = true;
    }
  }
  kvm_mmu_remote_flush_or_zap(vcpu, invalid_list, flush);
}
