/**
 * The linear address of the entry that maps `va` at `level` (1 = PTE) through recursive slot
 * `slot` of the top table, for 4-level (48-bit) or 5-level (57-bit) paging.
 */
export function recursiveVa(slot: bigint, va: bigint, level: number, levels: 4 | 5 = 4): bigint {
  const bits = BigInt(12 + 9 * levels);
  let a = va & ((1n << bits) - 1n);
  for (let i = 0; i < level; i++) a = (slot << (bits - 9n)) | (a >> 9n);
  a &= ~7n;
  return sext(a, levels);
}

/** Sign-extend a linear address of 4-level (bit 47) or 5-level (bit 56) paging to 64 bits. */
export function sext(a: bigint, levels: 4 | 5 = 4): bigint {
  const top = BigInt(12 + 9 * levels - 1);
  return a & (1n << top) ? a | (((1n << 64n) - 1n) ^ ((1n << (top + 1n)) - 1n)) : a;
}
