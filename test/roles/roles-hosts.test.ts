/** The named host configurations are the golden README §3.2 ones, value for value. */
import { describe, expect, it } from 'vitest';
import { HOST_NAMES, hostByName } from '../../src/roles/index.js';
import { goldenFiles, readGolden } from '../support/golden.js';

describe('host configurations', () => {
  it('every host a golden vector names has the same values here', () => {
    const seen = new Set<string>();
    for (const file of goldenFiles('roles', /\.(tdp-roots|shadow-roots)\.jsonl\.gz$/)) {
      for (const rec of readGolden(file)) {
        const i = rec['in'] as Record<string, unknown>;
        if (typeof i['host'] !== 'string' || seen.has(i['host'])) continue;
        seen.add(i['host']);
        const h = hostByName(i['host']);
        expect({
          tdp_root_level: h.tdp_root_level,
          max_tdp_level: h.max_tdp_level,
          maxphyaddr: h.maxphyaddr,
          ad_enabled: h.ad_enabled ? 1 : 0,
          vm_type: h.vm_type,
          guest_maxphyaddr: h.guest_maxphyaddr,
        }).toEqual({
          tdp_root_level: i['tdp_root_level'],
          max_tdp_level: i['max_tdp_level'],
          maxphyaddr: i['maxphyaddr'],
          ad_enabled: i['ad_enabled'],
          vm_type: i['vm_type'] ?? 0,
          guest_maxphyaddr: i['guest_maxphyaddr'] ?? 0,
        });
      }
    }
    expect([...seen].sort()).toEqual([...HOST_NAMES].sort());
  });
  it('an unknown host is a typed error naming the known ones', () => {
    expect(() => hostByName('ept9')).toThrow(/unknown host "ept9": expected one of ept4/);
  });
});
