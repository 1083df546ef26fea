/**
 * A JSON document read in chunks: a top-level object whose one array member (a scenario's
 * "steps") is handed out element by element, each element's text parsed on its own, and every
 * other member kept as text (the "header"). Memory is one chunk plus one element, flat in the
 * array's length. The scanner is a small string-aware bracket counter; every piece it cuts is
 * checked by JSON.parse, so a document it accepts is one JSON.parse accepts, with the same values.
 * Anything it does not take (not an object, a syntax error, the array key missing or given twice,
 * nesting over the depth limit) is NotStreamable: the caller then reads the file the ordinary way,
 * which gives the ordinary error message, byte for byte.
 */
import { MAX_JSON_DEPTH } from './json-input.js';

/** The input is not in the form the chunked reader takes; read it whole for the error. */
export class NotStreamable extends Error {}

/** What JsonArrayMemberStream.next gives after the array's last element. */
export const END: unique symbol = Symbol('end of array');

const enum S {
  Start,
  KeyOrEnd,
  Key,
  Colon,
  Value,
  Member,
  AfterValue,
  ElemStart,
  Elem,
  Trail,
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Pull-based: `next()` gives the array's elements in order, then END; after that,
 * `header()` is the whole document with the array's value replaced by `[]` (the document has
 * been scanned to its end, so any syntax error anywhere has been found).
 */
export class JsonArrayMemberStream {
  private buf = '';
  private pos = 0;
  private state = S.Start;
  private head: string[] = [];
  private key = '';
  private seenKey = false;
  private done = false;
  private eof = false;
  private count = 0;
  private readonly members = new Map<string, string>();

  constructor(
    private readonly read: () => string | null,
    private readonly arrayKey: string,
  ) {}

  private refill(keepFrom: number): boolean {
    if (this.eof) return false;
    const c = this.read();
    if (c === null) {
      this.eof = true;
      return false;
    }
    this.buf = this.buf.slice(keepFrom) + c;
    this.pos -= keepFrom;
    return true;
  }

  /** The text of one value (string-aware, depth counted) starting at pos, up to a depth-0 `,`, `]` or `}`. */
  private cut(maxDepth: number): { text: string; end: number } {
    let start = this.pos;
    let depth = 0;
    let inStr = false;
    let i = this.pos;
    for (;;) {
      const b = this.buf;
      for (; i < b.length; i++) {
        const c = b.charCodeAt(i);
        if (inStr) {
          if (c === 0x5c) i++;
          else if (c === 0x22) inStr = false;
        } else if (c === 0x22) inStr = true;
        else if (c === 0x7b || c === 0x5b) {
          if (++depth > maxDepth) throw new NotStreamable('too deep');
        } else if (c === 0x7d || c === 0x5d) {
          if (depth === 0) {
            this.pos = i;
            return { text: b.slice(start, i), end: c };
          }
          depth--;
        } else if (c === 0x2c && depth === 0) {
          this.pos = i;
          return { text: b.slice(start, i), end: c };
        }
      }
      // i may be b.length + 1 after a trailing backslash: keep the offset relative to start.
      const off = i - start;
      this.pos = start;
      if (!this.refill(start)) throw new NotStreamable('unexpected end');
      start = 0;
      i = off;
    }
  }

  /** The next non-whitespace character's code at pos (pos left on it), or -1 at end of input. */
  private peek(): number {
    for (;;) {
      const b = this.buf;
      while (this.pos < b.length && isWs(b.charCodeAt(this.pos))) this.pos++;
      if (this.pos < b.length) return b.charCodeAt(this.pos);
      if (!this.refill(this.pos)) return -1;
    }
  }

  private expect(ok: boolean): void {
    if (!ok) throw new NotStreamable('syntax');
  }

  /** The text of the latest top-level member `key` scanned so far (a later duplicate replaces it). */
  seen(key: string): string | undefined {
    return this.members.get(key);
  }

  /** The next element, parsed on its own, or END after the array's last one. */
  next(): unknown {
    const t = this.nextText();
    if (t === null) return END;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      throw new NotStreamable('element');
    }
  }

  /** The next element's text, or null after the array's last one. */
  nextText(): string | null {
    for (;;) {
      switch (this.state) {
        case S.Start:
          this.expect(this.peek() === 0x7b);
          this.pos++;
          this.head.push('{');
          this.state = S.KeyOrEnd;
          break;
        case S.KeyOrEnd: {
          const c = this.peek();
          if (c === 0x7d) {
            this.pos++;
            this.head.push('}');
            this.state = S.Trail;
          } else {
            this.expect(c === 0x22);
            this.state = S.Key;
          }
          break;
        }
        case S.Key: {
          // A key: the string up to its closing quote (escapes skipped).
          let i = this.pos + 1;
          let start = this.pos;
          for (;;) {
            const b = this.buf;
            let closed = false;
            for (; i < b.length; i++) {
              const c = b.charCodeAt(i);
              if (c === 0x5c) i++;
              else if (c === 0x22) {
                closed = true;
                break;
              }
            }
            if (closed) break;
            const off = i - start;
            if (!this.refill(start)) throw new NotStreamable('unexpected end');
            start = 0;
            i = off;
            this.pos = 0;
          }
          const text = this.buf.slice(start, i + 1);
          this.pos = i + 1;
          let k: unknown;
          try {
            k = JSON.parse(text);
          } catch {
            throw new NotStreamable('key');
          }
          this.key = k as string;
          this.head.push(text);
          this.state = S.Colon;
          break;
        }
        case S.Colon:
          this.expect(this.peek() === 0x3a);
          this.pos++;
          this.head.push(':');
          this.state = S.Value;
          break;
        case S.Value:
          if (this.key === this.arrayKey) {
            this.expect(!this.seenKey && this.peek() === 0x5b);
            this.seenKey = true;
            this.pos++;
            this.head.push('[]');
            this.state = S.ElemStart;
          } else this.state = S.Member;
          break;
        case S.Member: {
          const { text, end } = this.cut(MAX_JSON_DEPTH - 1);
          this.expect(end !== 0x5d);
          this.head.push(text);
          this.members.set(this.key, text);
          this.state = S.KeyOrEnd;
          this.pos++;
          this.head.push(end === 0x2c ? ',' : '}');
          if (end === 0x7d) this.state = S.Trail;
          break;
        }
        case S.ElemStart:
          if (this.peek() === 0x5d) {
            this.expect(this.count === 0);
            this.pos++;
            this.state = S.AfterValue;
            break;
          }
          this.state = S.Elem;
          break;
        case S.Elem: {
          const { text, end } = this.cut(MAX_JSON_DEPTH - 2);
          this.expect(end !== 0x7d);
          this.pos++;
          this.state = end === 0x2c ? S.Elem : S.AfterValue;
          this.count++;
          return text;
        }
        case S.AfterValue: {
          const c = this.peek();
          this.expect(c === 0x2c || c === 0x7d);
          this.pos++;
          this.head.push(c === 0x2c ? ',' : '}');
          this.state = c === 0x2c ? S.KeyOrEnd : S.Trail;
          break;
        }
        case S.Trail:
          this.expect(this.peek() === -1);
          this.expect(this.seenKey);
          this.done = true;
          return null;
      }
    }
  }

  /** The document without the array's elements (the array as `[]`), parsed; valid after next() returned END. */
  header(): unknown {
    if (!this.done) throw new Error('JsonArrayMemberStream.header before the end');
    try {
      return JSON.parse(this.head.join('')) as unknown;
    } catch {
      throw new NotStreamable('header');
    }
  }
}
