/**
 * What a parsed trace event says about roles: the role fields the text form prints, parsed back,
 * or the whole role word of the `fields` form decoded with the profile's layout; and the key that
 * compares two events by meaning (not host addresses, pfns or timestamps).
 */
import type { Profile } from '../profiles/index.js';
import { decodeRole, hasField, roleLayout, type RoleFields } from '../roles/layout.js';
import type { TraceLine } from './read.js';
import { withTextBits } from './parse.js';
import { formatRole, printArgs, printRoleParts } from './print.js';
import { PAGE_EVENTS, ROLE_PRINTK, TRACE_EVENTS } from './table.js';

type EventLine = Extract<TraceLine, { kind: 'event' }>;

/** The role fields an event carries, named as the profile's layout names them. */
export function roleFieldsOf(profile: Profile, e: EventLine): RoleFields | null {
  if (!PAGE_EVENTS.has(e.event)) return null;
  if (e.form === 'fields') return decodeRole(roleLayout(profile), Number(e.fields['role']) >>> 0);
  const t = (k: string) => Number(e.fields[`role_text.${k}`]);
  const l = roleLayout(profile);
  const out: RoleFields = { level: t('level') };
  if (hasField(l, 'has_4_byte_gpte')) out['has_4_byte_gpte'] = t('gpte_bytes') === 4 ? 1 : 0;
  else out['gpte_is_8_bytes'] = t('gpte_bytes') === 8 ? 1 : 0;
  out['quadrant'] = t('quadrant');
  out['direct'] = t('direct');
  out['access'] = t('access');
  out['invalid'] = t('invalid');
  out['efer_nx'] = t('efer_nx');
  out['ad_disabled'] = t('ad_disabled');
  return out;
}

/** The role fields the tracepoint text prints, from either form: what two traces can always compare. */
export function printedRole(profile: Profile, e: EventLine): string | null {
  if (!PAGE_EVENTS.has(e.event)) return null;
  if (e.form === 'fields') return formatRole(profile, Number(e.fields['role']) >>> 0);
  const parts: Record<string, number> = {};
  for (const arg of ROLE_PRINTK.args) parts[arg.src.slice(5)] = Number(e.fields[`role_text.${arg.src.slice(5)}`]);
  return printRoleParts(profile, parts);
}

const hx = (v: bigint | number) => (typeof v === 'bigint' ? v.toString(16) : (v >>> 0).toString(16));

/** The fields that carry meaning, as one string (role as printed; host fields only with `exact`). */
export function eventKey(profile: Profile, e: EventLine, exact: boolean): string {
  const spec = TRACE_EVENTS.get(e.event)!;
  const skip = new Set(exact ? [] : [...spec.host, 'mmu_valid_gen']);
  const parts: string[] = [e.event];
  if (PAGE_EVENTS.has(e.event)) {
    parts.push(`gfn ${hx(e.fields['gfn']!)}`, printedRole(profile, e)!, `root ${e.fields['root_count']}`, printArgs(profile, spec, e.fields, ['unsync']));
    if ('created' in e.fields) parts.push(printArgs(profile, spec, e.fields, ['created']));
    if (exact) {
      parts.push(`gen ${e.fields['mmu_valid_gen']}`);
      if (e.form === 'fields') parts.push(`role ${hx(e.fields['role']!)}`);
    }
    return parts.join(' ');
  }
  const fields = withTextBits(spec, e.fields);
  for (const k of Object.keys(fields).sort()) {
    if (skip.has(k)) continue;
    parts.push(`${k}=${hx(fields[k]!)}`);
  }
  return parts.join(' ');
}
