/**
 * Lines of a command's standard input: gzip-compressed input (magic 1f 8b) is decompressed, a
 * directory, binary data or an over-long line is a one-line input error.
 */
import { fstatSync } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { badInput } from '../bits/errors.js';
import { MAX_INPUT_BYTES } from '../bits/json-input.js';

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Chunks of `input`, gunzipped when it starts with the gzip magic. */
async function* bytes(input: NodeJS.ReadableStream, where: string): AsyncGenerator<Buffer> {
  if ((input as { fd?: unknown }).fd === 0) {
    let dir = false;
    try {
      dir = fstatSync(0).isDirectory();
    } catch {
      // not a file descriptor we can stat (a closed stdin): read it as it is
    }
    if (dir) badInput(where, 'is a directory (EISDIR), expected JSON Lines');
  }
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  let first: IteratorResult<Buffer | string>;
  try {
    first = await it.next();
  } catch (e) {
    badInput(where, `cannot read (${codeOf(e)})`);
  }
  if (first.done) return;
  const head = Buffer.from(first.value);
  const rest = async function* (): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield Buffer.from(n.value);
    }
  };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gz = createGunzip();
    pipeline(Readable.from(rest()), gz, () => {});
    try {
      for await (const c of gz) yield c as Buffer;
    } catch (e) {
      badInput(where, `bad gzip data (${codeOf(e)})`);
    }
    return;
  }
  try {
    for await (const c of rest()) yield c;
  } catch (e) {
    badInput(where, `cannot read (${codeOf(e)})`);
  }
}

/** The lines of `input` (without "\n" or "\r\n"), numbered from 1. */
export async function* stdinLines(input: NodeJS.ReadableStream, where = 'stdin'): AsyncGenerator<{ n: number; text: string }> {
  const dec = new StringDecoder('utf8');
  let rest = '';
  let n = 0;
  const check = (s: string, line: number): string => {
    if (s.includes('\u0000') || s.includes('\ufffd')) badInput(`${where} line ${line}`, 'binary data, not UTF-8 text');
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  for await (const chunk of bytes(input, where)) {
    rest += dec.write(chunk);
    let start = 0;
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n', start)) {
      n++;
      yield { n, text: check(rest.slice(start, i), n) };
      start = i + 1;
    }
    rest = rest.slice(start);
    if (rest.length > MAX_INPUT_BYTES) badInput(`${where} line ${n + 1}`, `longer than the ${MAX_INPUT_BYTES}-byte input limit`);
  }
  rest += dec.end();
  if (rest !== '') yield { n: n + 1, text: check(rest, n + 1) };
}
