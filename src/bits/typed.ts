/** Typed-array columns grown by doubling. */

type Column = Int32Array | Uint32Array | Float64Array;

/** A copy of `a` at twice its length, the new half zero (a column grown when an index reaches its end). */
export function doubled<T extends Column>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}
