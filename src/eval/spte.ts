/**
 * eval adapters for golden/spte (its README is the schema): SPTE masks per host, the SPTE
 * encoders and predicates, kvm_mmu_memory_cache sequences, sync_role_ign and the RFC's PAE
 * pieces. Each adapter only parses, calls the model's own code (src/mmu/spte*, pae_pdpte,
 * src/cache) and formats; the vectors' stubs (scripted allocation failures, the unsync and
 * dirty-log hooks) are plugged into the model's own hooks.
 */
import { jsonObject } from '../bits/json.js';
import { badInput } from '../bits/errors.js';
import { hex32, hex64, hex64Halves, parseFlag, parseInt_, parseUnsigned } from '../bits/hex.js';

import {
  HostMemory,
  KernelBug,
  KvmMmuMemoryCache,
  PaeRootCache,
  ScriptedFaults,
  WarnLog,
  gfpName,
  parseGfp,
  type FaultInjector,
  type Gfp,
} from '../cache/index.js';
import type { Profile } from '../profiles/index.js';
import { decodeRole, roleLayout, setField } from '../roles/index.js';
import { alloc_default_pae_pdpte, make_pae_pdpte, type ZeroPageSource } from '../mmu/index.js';
import * as S from '../mmu/index.js';
import { freezeMasks, setupSpteGlobals, spteMasksFor, type SpteHostConfig, type HostMode, type SpteGlobals, type SpteMasks } from '../mmu/index.js';
import { spteConstants } from '../mmu/index.js';
import type { EvalTable, Json, JsonObject } from './types.js';
import { quote } from '../bits/quote.js';

const obj = jsonObject;

function flag(v: unknown, where: string): boolean {
  return parseFlag(v, where) === 1;
}

function num(v: unknown, where: string): number {
  const b = parseUnsigned(v, where);
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) badInput(where, `value 0x${b.toString(16)} is too large for the model (above 2^53)`);
  return Number(b);
}

export function parseHostConfig(v: unknown, where = 'in.cfg'): SpteHostConfig {
  const c = obj(v, where);
  const mode = c['mode'];
  if (mode !== 'reset' && mode !== 'svm' && mode !== 'vmx' && mode !== 'vmx-ept') badInput(`${where}.mode`, `unknown mode ${quote(mode)}`);
  return {
    name: typeof c['name'] === 'string' ? c['name'] : '',
    mode: mode as HostMode,
    maxphyaddr: parseInt_(c['maxphyaddr'], `${where}.maxphyaddr`, 0, 64),
    x86_phys_bits: parseInt_(c['x86_phys_bits'], `${where}.x86_phys_bits`, 0, 64),
    x86_cache_bits: parseInt_(c['x86_cache_bits'], `${where}.x86_cache_bits`, 0, 64),
    l1tf: flag(c['l1tf'], `${where}.l1tf`),
    sme_c_bit: parseInt_(c['sme_c_bit'], `${where}.sme_c_bit`, 0, 63),
    mmio_caching: flag(c['mmio_caching'], `${where}.mmio_caching`),
    tdp: flag(c['tdp'], `${where}.tdp`),
    ept_ad: c['ept_ad'] === undefined ? false : flag(c['ept_ad'], `${where}.ept_ad`),
    ept_execonly: c['ept_execonly'] === undefined ? false : flag(c['ept_execonly'], `${where}.ept_execonly`),
  };
}

const maskCache = new Map<string, SpteMasks>();
function masksOf(profile: Profile, cfg: SpteHostConfig): SpteMasks {
  const key = `${profile.name}|${JSON.stringify(cfg)}`;
  let m = maskCache.get(key);
  if (!m) {
    m = spteMasksFor(profile, cfg);
    maskCache.set(key, m);
  }
  return m;
}

const b = (x: boolean): number => (x ? 1 : 0);
const buf = new Uint32Array(2);
const hexBuf = (): string => hex64Halves(buf[0]!, buf[1]!);

function pteMasksOut(profile: Profile, g: SpteGlobals): JsonObject {
  const t = profile.spte;
  const o: JsonObject = {
    shadow_host_writable_mask: hex64(g.shadow_host_writable_mask),
    shadow_mmu_writable_mask: hex64(g.shadow_mmu_writable_mask),
    shadow_nx_mask: hex64(g.shadow_nx_mask),
    shadow_x_mask: hex64(g.shadow_x_mask),
    shadow_user_mask: hex64(g.shadow_user_mask),
    shadow_accessed_mask: hex64(g.shadow_accessed_mask),
    shadow_dirty_mask: hex64(g.shadow_dirty_mask),
    shadow_mmio_value: hex64(g.shadow_mmio_value),
    shadow_mmio_mask: hex64(g.shadow_mmio_mask),
    shadow_mmio_access_mask: hex64(g.shadow_mmio_access_mask),
    shadow_present_mask: hex64(g.shadow_present_mask),
  };
  if (t.me_value_separate_from_mask) o['shadow_me_value'] = hex64(g.shadow_me_value);
  o['shadow_me_mask'] = hex64(g.shadow_me_mask);
  o['shadow_acc_track_mask'] = hex64(g.shadow_acc_track_mask);
  o['shadow_nonpresent_or_rsvd_mask'] = hex64(g.shadow_nonpresent_or_rsvd_mask);
  o['shadow_nonpresent_or_rsvd_lower_gfn_mask'] = hex64(g.shadow_nonpresent_or_rsvd_lower_gfn_mask);
  if (t.spte_module_init) o['kvm_host.maxphyaddr'] = g.phys_bits;
  if (t.ept_ad_masks_always) o['kvm_ad_enabled'] = b(g.kvm_ad_enabled);
  if (t.mmio_caching_rederived) o['kvm.arch.shadow_mmio_value'] = hex64(g.vm_shadow_mmio_value);
  if (!t.spte_module_init) o['shadow_phys_bits'] = g.phys_bits;
  o['enable_mmio_caching'] = b(g.enable_mmio_caching);
  o['warns'] = g.warns.count;
  return o;
}

function makeSpte(profile: Profile, input: JsonObject): JsonObject {
  const m = masksOf(profile, parseHostConfig(input['cfg']));
  const old = S.split64(parseUnsigned(input['old_spte'], 'in.old_spte'));
  const warns = new WarnLog();
  let unsync_called = 0;
  let mark_dirty = 0;
  const unsync_refused = flag(input['unsync_refused'], 'in.unsync_refused');
  const dirty_log = flag(input['dirty_log'], 'in.dirty_log');
  const host_mmio = flag(input['host_mmio'], 'in.host_mmio');
  const ctx: S.MakeSpteCtx = {
    masks: m,
    nx_huge_pages: flag(input['nx_huge_pages'], 'in.nx_huge_pages'),
    pml: flag(input['pml'], 'in.pml'),
    warns,
    kvm_is_mmio_pfn: () => host_mmio,
    mmu_try_to_unsync_pages: () => {
      unsync_called = 1;
      return unsync_refused ? -1 : 0;
    },
    kvm_slot_dirty_track_enabled: () => dirty_log,
    mark_page_dirty_in_slot: () => {
      mark_dirty = 1;
    },
  };
  const unsyncKey = profile.spte.make_spte_unsync_arg;
  const wrprot = S.make_spte(
    ctx,
    {
      level: parseInt_(input['level'], 'in.level', 1, 5),
      ad_disabled: flag(input['ad_disabled'], 'in.ad_disabled'),
      nested: flag(input['nested'], 'in.nested'),
      pte_access: parseInt_(input['pte_access'], 'in.pte_access', 0, 7),
      gfn: num(input['gfn'], 'in.gfn'),
      pfn: num(input['pfn'], 'in.pfn'),
      old_lo: old.lo,
      old_hi: old.hi,
      prefetch: flag(input['prefetch'], 'in.prefetch'),
      can_unsync_or_synchronizing: flag(input[unsyncKey], `in.${unsyncKey}`),
      host_writable: flag(input['host_writable'], 'in.host_writable'),
    },
    buf,
    0,
  );
  return { spte: hexBuf(), wrprot: b(wrprot), unsync_called, mark_dirty, warns: warns.count };
}

function predicates(profile: Profile, input: JsonObject): JsonObject {
  const m = masksOf(profile, parseHostConfig(input['cfg']));
  const { lo, hi } = S.split64(parseUnsigned(input['spte'], 'in.spte'));
  const level = parseInt_(input['level'], 'in.level', 1, 5);
  const warns = new WarnLog();
  const t = profile.spte;
  const o: JsonObject = {
    is_shadow_present_pte: b(S.is_shadow_present_pte(lo)),
    is_mmio_spte: b(S.is_mmio_spte(m, lo, hi)),
    is_last_spte: b(S.is_last_spte(lo, level)),
    is_large_pte: b(S.is_large_pte(lo)),
    spte_to_pfn: hex64(BigInt(S.spte_to_pfn(lo, hi))),
    is_accessed_spte: b(S.is_accessed_spte(m, lo, hi)),
  };
  if (profile.spte.accessed_test === 'ad_or_track') o['is_dirty_spte'] = b(S.is_dirty_spte(m, lo, hi));
  o['is_writable_pte'] = b(S.is_writable_pte(lo));
  if (t.spte_constants_renamed) o['is_mmu_writable_spte'] = b(S.is_mmu_writable_spte(m, lo, hi));
  else o['spte_can_locklessly_be_made_writable'] = b(S.spte_can_locklessly_be_made_writable(m, lo, hi, warns));
  o['is_executable_pte'] = b(S.is_executable_pte(m, lo, hi));
  o['spte_ad_enabled'] = b(S.spte_ad_enabled(hi));
  o['spte_ad_need_write_protect'] = b(S.spte_ad_need_write_protect(hi));
  o['is_access_track_spte'] = b(S.is_access_track_spte(m, lo, hi));
  // Which predicates exist follows the behaviour that brought them (FROZEN_SPTE came with
  // SHADOW_NONPRESENT_VALUE, is_ept_ve_possible with the suppress-#VE bit).
  if (t.nonpresent_bit63) o['is_frozen_spte'] = b(S.is_frozen_spte(m, lo, hi));
  if (t.ept_suppress_ve) o['is_ept_ve_possible'] = b(S.is_ept_ve_possible(m, lo, hi));
  if (t.nonpresent_bit63) o['spte_needs_atomic_update'] = b(S.spte_needs_atomic_update(m, lo, hi));
  else o['is_removed_spte'] = b(S.is_removed_spte(m, lo, hi));
  o['get_mmio_spte_generation'] = S.get_mmio_spte_generation(lo, hi);
  o['get_mmio_spte_gfn'] = hex64(BigInt(S.get_mmio_spte_gfn(m, lo, hi)));
  o['get_mmio_spte_access'] = S.get_mmio_spte_access(m, lo);
  o['warns'] = warns.count;
  return o;
}

function gfpList(xs: readonly Gfp[]): Json[] {
  return xs.map((g) => gfpName(g));
}

/** Routes the golden `fail` script to object allocations and `array_fail` to kvmalloc_array. */
function cacheFaults(input: JsonObject): FaultInjector {
  const fail = (input['fail'] ?? []) as (number | boolean)[];
  const arrayFail = (input['array_fail'] ?? []) as (number | boolean)[];
  if (!Array.isArray(fail) || !Array.isArray(arrayFail)) badInput('in.fail', 'expected arrays');
  const objs = new ScriptedFaults(fail, flag(input['fail_rest'], 'in.fail_rest'), (s) => !s.startsWith('kvmalloc_array:'));
  const arrays = new ScriptedFaults(arrayFail, false, (s) => s.startsWith('kvmalloc_array:'));
  return { shouldFail: (a) => objs.shouldFail(a) || arrays.shouldFail(a) };
}

function memoryCache(profile: Profile, input: JsonObject): JsonObject {
  const t = profile.cache;
  const mem = new HostMemory({ dma32_pages: 256, normal_pages: 4096, faults: cacheFaults(input) });
  const init = t.memory_cache_init_value && input['init_value'] !== undefined ? S.split64(parseUnsigned(input['init_value'], 'in.init_value')) : { lo: 0, hi: 0 };
  const gc = t.memory_cache_gfp_custom ? input['gfp_custom'] : null;
  const mc = new KvmMmuMemoryCache(mem, {
    name: 'vector_cache',
    traits: t,
    kmem_cache: flag(input['kmem_cache'], 'in.kmem_cache') ? 'vector_objects' : null,
    gfp_zero: flag(input['gfp_zero'], 'in.gfp_zero'),
    gfp_custom: gc === null || gc === undefined ? null : parseGfp(gc, 'in.gfp_custom'),
    init_value_lo: init.lo,
    init_value_hi: init.hi,
  });
  const capacity = t.memory_cache_dynamic_capacity ? parseInt_(input['capacity'], 'in.capacity', 0, 1 << 20) : 40;
  const ops = input['ops'];
  if (!Array.isArray(ops)) badInput('in.ops', 'expected a list of operations');

  const numbering = new Map<number, number>();
  let nextNo = 1;
  const renumber = (): void => {
    for (const id of [...numbering.keys()]) if (!mem.isAllocated(id)) numbering.delete(id);
    for (const o of mem.allocated()) if (!o.site.startsWith('kvmalloc_array:') && !numbering.has(o.id)) numbering.set(o.id, nextNo++);
  };
  const fillOf = (id: number): string => {
    const o = mem.info(id)!;
    if (o.kind === 'slab') return hex64Halves(o.fill_lo, o.fill_hi);
    const w = mem.words(id);
    for (let i = 2; i < w.length; i += 2) if (w[i] !== w[0] || w[i + 1] !== w[1]) return 'mixed';
    return hex64Halves(w[0]!, w[1]!);
  };

  const results: Json[] = [];
  const nobjs_after: Json[] = [];
  const capacity_after: Json[] = [];
  const alloc_fill: Json[] = [];
  let bug = 0;
  ops.forEach((opv, i) => {
    if (bug) return;
    const op = opv as Json[];
    const where = `in.ops[${i}]`;
    if (!Array.isArray(op) || typeof op[0] !== 'string') badInput(where, 'expected ["topup", min] / ["alloc"] / ["free"] / ["nr_free"]');
    let r: Json;
    switch (op[0]) {
      case 'topup': {
        const min = parseInt_(op[1], `${where}[1]`, 0, 1 << 20);
        const cap = op.length > 2 ? parseInt_(op[2], `${where}[2]`, 0, 1 << 20) : capacity;
        r = mc.__kvm_mmu_topup_memory_cache(cap, min);
        break;
      }
      case 'alloc':
        try {
          const id = mc.kvm_mmu_memory_cache_alloc();
          renumber();
          r = numbering.get(id)!;
          alloc_fill.push(fillOf(id));
        } catch (e) {
          if (!(e instanceof KernelBug)) throw e;
          bug = 1;
          return;
        }
        break;
      case 'free':
        mc.kvm_mmu_free_memory_cache();
        r = null;
        break;
      case 'nr_free':
        r = mc.kvm_mmu_memory_cache_nr_free_objects();
        break;
      default:
        badInput(`${where}[0]`, `unknown operation ${quote(op[0])}`);
    }
    renumber();
    results.push(r);
    nobjs_after.push(mc.nobjs);
    capacity_after.push(mc.capacity);
  });
  // The vectors' harness reports no per-op results once BUG_ON fired (alloc_fill is kept).
  const out: JsonObject = bug ? { results: [], nobjs_after: [] } : { results, nobjs_after };
  if (t.memory_cache_dynamic_capacity) out['capacity_after'] = bug ? [] : capacity_after;
  Object.assign(out, {
    bug,
    warns: mc.warns.count,
    atomic_fallbacks: mc.atomic_fallbacks,
    objects_allocated: mc.objects_allocated,
    objects_freed: mc.objects_freed,
    alloc_attempts: mc.alloc_attempts,
    attempts: mc.attempts.map((a) => [gfpName(a.gfp), b(a.ok), a.count]),
    alloc_fill,
  });
  if (t.memory_cache_dynamic_capacity) {
    out['array_allocs'] = mc.array_allocs;
    out['array_frees'] = mc.array_frees;
    out['array_gfp'] = gfpList(mc.array_gfp);
  }
  return out;
}

/** A zero page at a fixed physical address (the vectors' __get_free_page stub). */
function fixedZeroPage(pa: bigint, freed: { n: number }): ZeroPageSource {
  return { alloc: () => Number(pa >> 12n), free: () => void freed.n++ };
}

function defaultPaePdpte(profile: Profile, input: JsonObject): JsonObject {
  const cfg = parseHostConfig(input['cfg']);
  const pa = parseUnsigned(input['zero_page_pa'], 'in.zero_page_pa', 52);
  const freed = { n: 0 };
  const warns = new WarnLog();
  let ret = 0;
  let lo = 0;
  let hi = 0;
  const g = setupSpteGlobals(profile, cfg, {
    afterReset(gl) {
      const r = alloc_default_pae_pdpte(freezeMasks(gl), fixedZeroPage(pa, freed), warns);
      ret = r.ret;
      if (r.value) ({ lo, hi } = r.value);
    },
  });
  const m = freezeMasks(g);
  return {
    ret,
    default_pae_pdpte: hex64Halves(lo, hi),
    warns: warns.count,
    page_freed: b(freed.n > 0),
    is_shadow_present_pte: b(S.is_shadow_present_pte(lo)),
    is_mmio_spte: b(S.is_mmio_spte(m, lo, hi)),
  };
}

function paeRootCache(profile: Profile, input: JsonObject): JsonObject {
  const cfg = parseHostConfig(input['cfg']);
  const pa = parseUnsigned(input['zero_page_pa'], 'in.zero_page_pa', 52);
  let dflt = { lo: 0, hi: 0 };
  const g = setupSpteGlobals(profile, cfg, {
    afterReset(gl) {
      const r = alloc_default_pae_pdpte(freezeMasks(gl), fixedZeroPage(pa, { n: 0 }), new WarnLog());
      if (r.value) dflt = { lo: r.value.lo, hi: r.value.hi };
    },
  });
  const level = parseInt_(input['shadow_root_level'], 'in.shadow_root_level', 2, 5);
  const fail = input['fail'];
  if (!Array.isArray(fail)) badInput('in.fail', 'expected a list');
  const gfps: Gfp[] = [];
  const script = new ScriptedFaults(fail as number[], flag(input['fail_rest'], 'in.fail_rest'));
  const mem = new HostMemory({
    dma32_pages: 64,
    normal_pages: 0,
    faults: { shouldFail: (a) => (gfps.push(a.gfp), script.shouldFail(a)) },
  });
  const cache = new PaeRootCache(mem, {
    tdp_enabled: cfg.tdp,
    shadow_me_mask_nonzero: g.shadow_me_mask !== 0n,
    default_pdpte: profile.cache.pae_root_default_pdptes ? dflt : null,
  });
  const ids = new Map<number, number>();
  let nextId = 1;
  const ops = input['ops'];
  if (!Array.isArray(ops)) badInput('in.ops', 'expected a list of operations');
  const results: Json[] = [];
  const pdptes: Json[] = [];
  const taken: number[] = [];
  ops.forEach((opv, i) => {
    const op = (opv as Json[])[0];
    if (op === 'topup') {
      const before = cache.pages_allocated;
      results.push(cache.mmu_topup_pae_root_cache(level));
      if (cache.pages_allocated > before && cache.slot !== null) {
        ids.set(cache.slot, nextId++);
        const w = mem.words(cache.slot);
        pdptes.push([0, 1, 2, 3, 4].map((k) => hex64Halves(w[2 * k]!, w[2 * k + 1]!)));
      } else {
        pdptes.push(null);
      }
    } else if (op === 'take') {
      const p = cache.take();
      results.push(p === null ? 0 : ids.get(p)!);
      if (p !== null) taken.push(p);
      pdptes.push(null);
    } else if (op === 'free_caches') {
      cache.free();
      results.push(null);
      pdptes.push(null);
    } else {
      badInput(`in.ops[${i}][0]`, `unknown operation ${quote(op)}`);
    }
  });
  return {
    results,
    pdptes,
    slot_after: cache.slot === null ? 0 : ids.get(cache.slot)!,
    pages_allocated: cache.pages_allocated,
    alloc_attempts: cache.alloc_attempts,
    alloc_gfp: gfpList(gfps),
    decrypted: mem.stats.decrypt_calls,
    encrypted: mem.stats.encrypt_calls,
    pages_freed: mem.stats.pages_freed,
    warns: cache.warns.count,
  };
}

export const spteEval: EvalTable = {
  fns: {
    pte_masks(profile, input) {
      return pteMasksOut(profile, setupSpteGlobals(profile, parseHostConfig(input['cfg'])));
    },
    spte_constants(profile) {
      return spteConstants(profile.spte) as JsonObject;
    },
    sync_role_ign(profile) {
      const layout = roleLayout(profile, 'kvm_mmu_page_role');
      let word = 0;
      for (const name of profile.roles.sync_ignore) {
        const f = layout.byName.get(name);
        if (!f) badInput('sync_role_ign', `profile ${profile.name} has no role field ${name}`);
        word = setField(layout, word, name, 2 ** f.width - 1);
      }
      return { word: hex32(word), fields: decodeRole(layout, word) };
    },
    make_spte: makeSpte,
    make_nonleaf_spte(profile, input) {
      const m = masksOf(profile, parseHostConfig(input['cfg']));
      S.make_nonleaf_spte(m, num(input['child_pa'], 'in.child_pa'), flag(input['ad_disabled'], 'in.ad_disabled'), buf, 0);
      return { spte: hexBuf(), warns: 0 };
    },
    make_mmio_spte(profile, input) {
      const m = masksOf(profile, parseHostConfig(input['cfg']));
      const warns = new WarnLog();
      const gen = Number(parseUnsigned(input['generation'], 'in.generation') & BigInt(S.MMIO_SPTE_GEN_MASK));
      S.make_mmio_spte(m, num(input['gfn'], 'in.gfn'), parseInt_(input['access'], 'in.access', 0, 0xffffffff), gen, buf, 0, warns);
      return { spte: hexBuf(), warns: warns.count };
    },
    mark_spte_for_access_track(profile, input) {
      const m = masksOf(profile, parseHostConfig(input['cfg']));
      const warns = new WarnLog();
      const { lo, hi } = S.split64(parseUnsigned(input['spte'], 'in.spte'));
      S.mark_spte_for_access_track(m, lo, hi, buf, 0, warns);
      const spte = hexBuf();
      S.restore_acc_track_spte(m, buf[0]!, buf[1]!, buf, 0, warns);
      return { spte, restore_acc_track_spte_of_result: hexBuf(), warns: warns.count };
    },
    spte_predicates: predicates,
    memory_cache: memoryCache,
    make_pae_pdpte(profile, input) {
      const m = masksOf(profile, parseHostConfig(input['cfg']));
      make_pae_pdpte(m, num(input['child_pa'], 'in.child_pa'), buf, 0);
      return {
        spte: hexBuf(),
        is_shadow_present_pte: b(S.is_shadow_present_pte(buf[0]!)),
        is_mmio_spte: b(S.is_mmio_spte(m, buf[0]!, buf[1]!)),
        warns: 0,
      };
    },
    default_pae_pdpte: defaultPaePdpte,
    pae_root_cache: paeRootCache,
  },
};



