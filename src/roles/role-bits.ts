/**
 * The kvm_mmu_page_role fields the hot paths read and write, as masks and shifts of one
 * profile's layout, taken once per profile: kvm_mmu_child_role's field writes (sp-role.ts) and
 * the shadow-page code's role tests (Kvm.rb) read this one table.
 */
import type { Profile } from '../profiles/index.js';
import { hasField, roleLayout } from './layout.js';
import { syncRoleIgnoreMask } from './predicates.js';

export interface RoleBits {
  readonly levelMask: number;
  readonly levelShift: number;
  readonly direct: number;
  readonly invalid: number;
  readonly ad_disabled: number;
  readonly guest_mode: number;
  readonly accessShift: number;
  readonly accessMask: number;
  readonly quadrantMask: number;
  readonly quadrantShift: number;
  /** RFC pae_root bit, 0 when absent. */
  readonly pae_root: number;
  /** passthrough (6.x) bit, 0 when absent. */
  readonly passthrough: number;
  /** RFC level_promoted bit, 0 when absent. */
  readonly level_promoted: number;
  /** Bit 4 (gpte_is_8_bytes or has_4_byte_gpte) and its value for 4-byte guest PTEs in this profile's polarity. */
  readonly gpteBit: number;
  readonly gpteBit4Byte: number;
  /** FNAME(sync_page) / kvm_sync_page_check sync_role_ign (syncRoleIgnoreMask). */
  readonly sync_role_ign: number;
}

const cache = new WeakMap<Profile, RoleBits>();
let lastProfile: Profile | null = null;
let lastBits: RoleBits | null = null;

export function roleBits(profile: Profile): RoleBits {
  if (profile === lastProfile) return lastBits!;
  let rb = cache.get(profile);
  if (!rb) {
    const l = roleLayout(profile);
    const m = (n: string) => (hasField(l, n) ? l.byName.get(n)!.mask : 0);
    const eight = profile.roles.gpte_bit === 'gpte_is_8_bytes';
    const gpte = m(eight ? 'gpte_is_8_bytes' : 'has_4_byte_gpte');
    rb = {
      levelMask: m('level'),
      levelShift: l.byName.get('level')?.shift ?? 0,
      direct: m('direct'),
      invalid: m('invalid'),
      ad_disabled: m('ad_disabled'),
      guest_mode: m('guest_mode'),
      accessShift: l.byName.get('access')!.shift,
      accessMask: m('access'),
      quadrantMask: m('quadrant'),
      quadrantShift: l.byName.get('quadrant')?.shift ?? 0,
      pae_root: m('pae_root'),
      passthrough: m('passthrough'),
      level_promoted: m('level_promoted'),
      gpteBit: gpte,
      gpteBit4Byte: eight ? 0 : gpte,
      sync_role_ign: syncRoleIgnoreMask(profile),
    };
    cache.set(profile, rb);
  }
  lastProfile = profile;
  lastBits = rb;
  return rb;
}
