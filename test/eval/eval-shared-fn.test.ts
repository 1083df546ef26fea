import { describe, expect, it } from 'vitest';
import { evaluateRecord } from '../../src/eval/index.js';

// golden/roles and golden/cpu both have a `tdp_level` fn with different inputs; the registry sends
// each record to the domain whose schema it has (EvalTable.when).
describe('eval: a fn name shared by two golden sets', () => {
  it('roles schema (module state) and cpu schema (guest CPUID table) both evaluate', () => {
    const roles = evaluateRecord({ profile: 'v6.18', fn: 'tdp_level', in: { tdp_root_level: 0, max_tdp_level: 5, maxphyaddr: 49 } });
    expect(roles['out']).toEqual({ level: 5 });
    const cpu = evaluateRecord({
      profile: 'v6.18',
      fn: 'tdp_level',
      in: {
        host: 'ept5',
        vendor: 'vmx',
        ept_caps: '0x00000000000000c0',
        host_l5: 0,
        vm_type: 0,
        entries: [
          { function: '0x80000000', index: '0x0', flags: '0x0', eax: '0x80000008', ebx: '0x0', ecx: '0x0', edx: '0x0' },
          { function: '0x80000008', index: '0x0', flags: '0x0', eax: '0x00003030', ebx: '0x0', ecx: '0x0', edx: '0x0' },
        ],
      },
    });
    expect(cpu['out']).toMatchObject({ max_tdp_level: 5, maxphyaddr: 48, tdp_level: 4 });
  });
});
