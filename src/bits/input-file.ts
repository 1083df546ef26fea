/**
 * Reading an input file for a command: a clear one-line error for a missing file, a directory,
 * a file over the size limit, bad gzip data, a binary file or an empty one. A gzip-compressed
 * file (magic 1f 8b) is decompressed.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { badInput, ShadowMmuError } from './errors.js';
import { MAX_INPUT_BYTES } from './json-input.js';
import { NotStreamable } from './json-stream.js';
import { printable } from './quote.js';

const DECODER = new TextDecoder('utf-8', { fatal: true });

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** The bytes around `at` as escaped text (\xNN for anything not printable ASCII). */
function hexHead(buf: Uint8Array, at: number): string {
  const from = Math.max(0, at - 8);
  return printable(Buffer.from(buf.subarray(from, from + 16)).toString('latin1'));
}

/** Text of `buf` as UTF-8, refusing binary data; `where` names the input. */
export function decodeText(buf: Uint8Array, where: string): string {
  const nul = buf.indexOf(0);
  if (nul >= 0) badInput(where, `binary data, not text (NUL byte at offset ${nul}: ${hexHead(buf, nul)})`);
  try {
    return DECODER.decode(buf);
  } catch {
    const at = firstBadUtf8(buf);
    badInput(where, `binary data, not UTF-8 text (bad byte at offset ${at}: ${hexHead(buf, at)})`);
  }
}

/** Offset of the first byte that breaks UTF-8 (a lead byte with too few continuation bytes, or a stray one). */
function firstBadUtf8(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    const n = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((buf[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return 0;
}

/** Read `path` as text; `where` is the command (and option) that names it. */
export function readInput(path: string, where: string, opts: { allowEmpty?: boolean } = {}): string {
  const w = `${where} ${printable(path)}`;
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) badInput(w, 'is a directory, expected a file');
    size = st.size;
  } catch (e) {
    if (e instanceof ShadowMmuError) throw e;
    badInput(where, `cannot read ${printable(path)} (${errCode(e)})`);
  }
  if (size > MAX_INPUT_BYTES) badInput(w, `${size} bytes is over the ${MAX_INPUT_BYTES}-byte input limit`);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    badInput(where, `cannot read ${printable(path)} (${errCode(e)})`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf, { maxOutputLength: MAX_INPUT_BYTES });
    } catch (e) {
      badInput(w, `bad gzip data (${errCode(e)})`);
    }
  }
  const text = decodeText(buf, w);
  if (!opts.allowEmpty && text.trim() === '') badInput(w, 'is empty');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * `path` as text in chunks of about `chunk` bytes, for a reader that keeps memory flat; null at
 * the end. Anything readInput would refuse or change (a missing file, a directory, over the size
 * limit, gzip data, a NUL byte, bad UTF-8) throws NotStreamable: the caller reads the file with
 * readInput then, which gives the usual error. A leading BOM is dropped, as readInput drops it.
 */
export function inputFileChunks(path: string, chunk = 1 << 20): { read: () => string | null; close: () => void } {
  let fd: number;
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_INPUT_BYTES) throw new NotStreamable('not a plain file');
    fd = openSync(path, 'r');
  } catch {
    throw new NotStreamable('cannot open');
  }
  const dec = new TextDecoder('utf-8', { fatal: true });
  const buf = Buffer.allocUnsafe(chunk);
  let first = true;
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  const read = (): string | null => {
    if (closed) return null;
    let n: number;
    try {
      n = readSync(fd, buf, 0, chunk, null);
    } catch {
      close();
      throw new NotStreamable('read error');
    }
    const bytes = buf.subarray(0, n);
    if (first && n >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      close();
      throw new NotStreamable('gzip');
    }
    if (bytes.indexOf(0) >= 0) {
      close();
      throw new NotStreamable('NUL byte');
    }
    let text: string;
    try {
      text = n === 0 ? dec.decode() : dec.decode(bytes, { stream: true });
    } catch {
      close();
      throw new NotStreamable('bad UTF-8');
    }
    if (n === 0) close();
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    return n === 0 && text === '' ? null : text;
  };
  return { read, close };
}
