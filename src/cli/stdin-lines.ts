/**
 * Lines of a command's standard input: gzip-compressed input (magic 1f 8b) is decompressed, a
 * directory, binary data or an over-long line is a one-line input error.
 */
import { StringDecoder } from 'node:string_decoder';
import { badInput } from '../bits/errors.js';
import { inputChunks } from '../bits/input-stream.js';
import { MAX_INPUT_BYTES } from '../bits/json-input.js';

/** The lines of `input` (without "\n" or "\r\n"), numbered from 1. */
export async function* stdinLines(input: NodeJS.ReadableStream, where = 'stdin'): AsyncGenerator<{ n: number; text: string }> {
  const dec = new StringDecoder('utf8');
  let rest = '';
  let n = 0;
  const check = (s: string, line: number): string => {
    if (s.includes('\u0000') || s.includes('\ufffd')) badInput(`${where} line ${line}`, 'binary data, not UTF-8 text');
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  for await (const chunk of inputChunks(input, where)) {
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
