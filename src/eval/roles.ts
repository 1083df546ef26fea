/** eval adapters for the role fns of golden/roles (README there is the schema). */
import { hex32, parseInt_, parseU32, parseUnsigned } from '../bits/hex.js';
import { badInput } from '../bits/errors.js';
import { decodeRole, KVM_MMU_HASH_SHIFT, kvm_page_table_hashfn, layoutTable, parseUnionName, roleLayout } from '../roles/index.js';
import type { EvalTable, JsonObject } from './types.js';

export const rolesEval: EvalTable = {
  fns: {
    role_layout(profile, input) {
      const t = layoutTable(roleLayout(profile, parseUnionName(input['union'], 'in.union')));
      const fields: JsonObject = {};
      for (const [k, f] of Object.entries(t.fields)) fields[k] = { shift: f.shift, width: f.width, mask: hex32(f.mask) };
      return { size_bytes: t.size_bytes, fields };
    },
    decode(profile, input) {
      const layout = roleLayout(profile, parseUnionName(input['union'], 'in.union'));
      return { fields: decodeRole(layout, parseU32(input['word'], 'in.word')) };
    },
    page_hash(_profile, input) {
      const bpl = parseInt_(input['bits_per_long'], 'in.bits_per_long', 32, 64);
      if (bpl !== 32 && bpl !== 64) badInput('in.bits_per_long', `expected 32 or 64, got ${bpl}`);
      const gfn = parseUnsigned(input['gfn'], 'in.gfn');
      return { bucket: kvm_page_table_hashfn(gfn, bpl), hash_shift: KVM_MMU_HASH_SHIFT };
    },
  },
};
