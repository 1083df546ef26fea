/** The chunked JSON reader (`run` of a JSON op scenario in flat memory): same values as JSON.parse at every chunk size, and NotStreamable for what it does not take. */
import { describe, expect, it } from 'vitest';
import { END, JsonArrayMemberStream, NotStreamable } from '../../src/bits/json-stream.js';

function chunked(text: string, size: number): () => string | null {
  let at = 0;
  return () => {
    if (at >= text.length) return null;
    const c = text.slice(at, at + size);
    at += size;
    return c;
  };
}

function drain(text: string, size: number): { elems: unknown[]; header: unknown } {
  const s = new JsonArrayMemberStream(chunked(text, size), 'steps');
  const elems: unknown[] = [];
  for (let v = s.next(); v !== END; v = s.next()) elems.push(v);
  return { elems, header: s.header() };
}

const GOOD = [
  '{"profile":"v6.18","steps":[{"op":"load"},{"op":"walk","addr":"0x10"}]}',
  ' \n{ "comment" : "a ]}{[,\\" \\\\ string", "steps" : [ ] , "vcpu": {"mmu": [1, [2, {"x": "]"}]]} }\n\t',
  '{"steps":[1, "two", [3, [4]], {"five": {"six": null}}, true, -1.5e3],"profile":"p"}',
  '{"\\u0073teps":[{"op":"\\u006coad","c":"\\\\"}],"a":{}}',
  '{"a":"x\\\\","steps":[{"b":"\\"]"}],"c":[]}',
];
const BAD = [
  '',
  '[1]',
  '{"steps":[1,]}',
  '{"steps":[,1]}',
  '{"steps":[1 2]}',
  '{"steps":[1]',
  '{"steps":[1]} x',
  '{"steps":[1],}',
  '{"steps":[1],"steps":[2]}',
  '{"steps":{"op":"load"}}',
  '{"profile":"p"}',
  '{"steps":[{"a":1]}]}',
  '{"steps":[{"a":1}}]}',
  '{"steps" [1]}',
  '{"a":,"steps":[]}',
  '{"steps":["unterminated]}',
  '{"steps":[' + '['.repeat(255) + ']'.repeat(255) + ']}',
  '{"x":' + '['.repeat(256) + ']'.repeat(256) + ',"steps":[]}',
];

describe('JsonArrayMemberStream', () => {
  for (const [k, doc] of GOOD.entries()) {
    it(`document ${k}: elements and header as JSON.parse gives them, at every chunk size`, () => {
      const whole = JSON.parse(doc) as Record<string, unknown>;
      for (const size of [1, 2, 3, 5, 7, 16, 1 << 20]) {
        const { elems, header } = drain(doc, size);
        expect(elems).toEqual(whole['steps']);
        expect(header).toEqual({ ...whole, steps: [] });
        expect(Object.keys(header as object)).toEqual(Object.keys(whole));
      }
    });
  }
  it('the deepest nesting JSON allows (256) is taken', () => {
    const doc = '{"steps":[' + '['.repeat(254) + ']'.repeat(254) + ']}';
    expect(drain(doc, 7).elems).toHaveLength(1);
  });
  for (const [k, doc] of BAD.entries()) {
    it(`refuses bad or unusual document ${k} at every chunk size`, () => {
      for (const size of [1, 3, 1 << 20]) expect(() => drain(doc, size)).toThrow(NotStreamable);
    });
  }
});
