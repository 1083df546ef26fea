/** The linear address of the entry that maps `va` at `level` (1 = PTE) through recursive PML4 slot `slot` (4-level paging). */
export function recursiveVa(slot: bigint, va: bigint, level: number): bigint {
  let a = va & 0xffffffffffffn;
  for (let i = 0; i < level; i++) a = (slot << 39n) | (a >> 9n);
  a &= ~7n;
  return a & (1n << 47n) ? a | 0xffff000000000000n : a;
}
