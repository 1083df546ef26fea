/**
 * A byte stream as chunks, gunzipped when it starts with the gzip magic (1f 8b); a directory on
 * standard input, a read error or bad gzip data is a one-line input error. Shared by the line
 * readers (stdin JSON Lines, trace files, oracle files).
 */
import { fstatSync } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { badInput } from './errors.js';

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Chunks of `input`, gunzipped when it starts with the gzip magic. */
export async function* inputChunks(input: NodeJS.ReadableStream, where: string): AsyncGenerator<Buffer> {
  if ((input as { fd?: unknown }).fd === 0) {
    let dir = false;
    try {
      dir = fstatSync(0).isDirectory();
    } catch {
      // not a file descriptor we can stat (a closed stdin): read it as it is
    }
    if (dir) badInput(where, 'is a directory (EISDIR)');
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

