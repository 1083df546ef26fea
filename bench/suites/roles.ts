/**
 * Role benchmarks: root-role calculation (5.x and 6.x pipelines), the shadow-page role of a
 * request, encode, decode, and the page hash. Each operation is one call on the next input of a
 * fixed cycle (all 1408 valid register triples, a table of role words, 4096 gfns), so the work
 * varies like real use and nothing is constant-folded.
 */
import type { BenchSuite } from '../harness.js';
import { getProfile } from '../../src/profiles/index.js';
import {
  calcRootRole,
  decodeRole,
  encodeRole,
  hash_64_halves,
  hostByName,
  kvm_mmu_get_page_role,
  KVM_MMU_HASH_SHIFT,
  roleLayout,
  validRoleRegs,
  type RoleVcpu,
} from '../../src/roles/index.js';

const v516 = getProfile('v5.16');
const v618 = getProfile('v6.18');
const rfc = getProfile('rfc-v1');
const ept4 = hostByName('ept4');
const VCPUS: RoleVcpu[] = validRoleRegs().map((r, i) => ({ ...r, smm: (i & 1) === 1, guest_mode: (i & 2) === 2, host: ept4 }));
const N = VCPUS.length;

let sink = 0;
let i = 0;
const next = () => VCPUS[(i = (i + 1) % N)]!;

// sp_role requests: shadow contexts of every input under rfc-v1, level 1..3, five addresses.
const SP_CTX = VCPUS.map((v) => {
  const r = calcRootRole(rfc, 'shadow', v);
  return { mmu_role: r.word, direct_map: r.direct_map, root_level: r.root_level, shadow_root_level: r.shadow_root_level };
});
const GADDRS = [0, 0x200000, 0x40000000, 0xc0200000, 0xfffff000];

const layout = roleLayout(v618);
const WORDS = VCPUS.map((v) => calcRootRole(v618, 'shadow', v).word);
const FIELDS = WORDS.map((w) => decodeRole(layout, w));
const GFN_LO = Array.from({ length: 4096 }, (_, k) => Math.imul(k + 1, 0x9e3779b1) >>> 0);
const GFN_HI = Array.from({ length: 4096 }, (_, k) => (k * 0x3f) & 0xfffff);

export const rolesSuite: BenchSuite = {
  name: 'roles',
  cases: [
    { name: 'shadow root role v5.16', fn: () => void (sink ^= calcRootRole(v516, 'shadow', next()).word), counts: () => ({ roles: 1 }) },
    { name: 'shadow root role rfc-v1', fn: () => void (sink ^= calcRootRole(rfc, 'shadow', next()).word), counts: () => ({ roles: 1 }) },
    { name: 'shadow root role v6.18', fn: () => void (sink ^= calcRootRole(v618, 'shadow', next()).word), counts: () => ({ roles: 1 }) },
    { name: 'tdp root role v6.18', fn: () => void (sink ^= calcRootRole(v618, 'tdp', next()).word), counts: () => ({ roles: 1 }) },
    {
      name: 'sp_role rfc-v1 (kvm_mmu_get_page)',
      fn: () => {
        i = (i + 1) % N;
        const ctx = SP_CTX[i]!;
        sink ^= kvm_mmu_get_page_role(rfc, ctx, { level: 1 + (i % ctx.shadow_root_level), direct: ctx.direct_map, access: 7, gaddr: GADDRS[i % 5]! });
      },
      counts: () => ({ roles: 1 }),
    },
    { name: 'encode v6.18 page role', fn: () => void (sink ^= encodeRole(layout, FIELDS[(i = (i + 1) % N)]!)), counts: () => ({ fields: layout.fields.length }) },
    { name: 'decode v6.18 page role', fn: () => void (sink ^= decodeRole(layout, WORDS[(i = (i + 1) % N)]!)['level']!), counts: () => ({ fields: layout.fields.length }) },
    {
      name: 'page hash (hash_64, 64-bit)',
      fn: () => {
        i = (i + 1) & 4095;
        sink ^= hash_64_halves(GFN_LO[i]!, GFN_HI[i]!, KVM_MMU_HASH_SHIFT);
      },
      counts: () => ({ gfns: 1 }),
    },
  ],
};

/** Keeps the results observable so no case body is dead code. */
export function rolesSink(): number {
  return sink;
}
