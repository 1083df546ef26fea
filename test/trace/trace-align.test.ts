import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignSequences, type AlignOp } from '../../src/trace/align.js';

/** Longest common subsequence length, by dynamic programming (the reference). */
function lcs(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? 1 + t[i + 1]![j + 1]! : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
  return t[0]![0]!;
}

function check(a: string[], b: string[], ops: AlignOp[]): void {
  let i = 0;
  let j = 0;
  for (const op of ops) {
    if (op.kind === 'same') {
      expect([op.a, op.b]).toEqual([i, j]);
      expect(a[i]).toBe(b[j]);
      i++;
      j++;
    } else if (op.kind === 'del') expect(op.a).toBe(i++);
    else expect(op.b).toBe(j++);
  }
  expect([i, j]).toEqual([a.length, b.length]);
}

describe('alignSequences (Myers)', () => {
  it('aligns the textbook example with a shortest script, deletions first', () => {
    const a = [...'ABCABBA'];
    const b = [...'CBABAC'];
    const ops = alignSequences(a, b, (x) => x);
    check(a, b, ops);
    expect(ops.filter((o) => o.kind === 'same')).toHaveLength(4);
    // Myers 1986, fig. 1: delete A, B; keep C; insert B; keep A, B; delete B; keep A; insert C.
    expect(ops.map((o) => (o.kind === 'same' ? '=' : o.kind === 'del' ? '-' : '+')).join('')).toBe('--=+==-=+');
  });
  it('identical and empty inputs', () => {
    expect(alignSequences([], [], String)).toEqual([]);
    expect(alignSequences(['x'], [], String)).toEqual([{ kind: 'del', a: 0 }]);
    expect(alignSequences([], ['x'], String)).toEqual([{ kind: 'ins', b: 0 }]);
    expect(alignSequences(['a', 'b'], ['a', 'b'], String).every((o) => o.kind === 'same')).toBe(true);
    expect(alignSequences(['a'], ['b'], String)).toEqual([{ kind: 'del', a: 0 }, { kind: 'ins', b: 0 }]);
  });
  it('is a valid alignment of maximal length (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 40 }), fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 40 }), (a, b) => {
        const ops = alignSequences(a, b, (x) => x);
        check(a, b, ops);
        expect(ops.filter((o) => o.kind === 'same').length).toBe(lcs(a, b));
        expect(alignSequences(a, b, (x) => x)).toEqual(ops);
      }),
      { numRuns: 400, seed: 9 },
    );
  });
});
