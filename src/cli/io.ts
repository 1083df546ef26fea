/** Output helpers: buffered stdout writes that respect backpressure (eval streams millions of lines). */
import { fstatSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ShadowMmuError } from '../bits/errors.js';

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: NodeJS.ReadableStream;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };

/** Write a chunk; resolves when the stream can take more. */
export function write(stream: Writable, chunk: string): Promise<void> | void {
  if (!stream.write(chunk)) {
    return new Promise((resolve) => stream.once('drain', () => resolve()));
  }
}

/** Collects text for commands that print a report. */
export class Out {
  private readonly lines: string[] = [];
  line(s = ''): void {
    this.lines.push(s);
  }
  text(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }
}

/** Refuse a directory on standard input (Node reads it as an empty stream, silently). */
export function checkStdin(io: Io, cmd: string): void {
  if (io.stdin !== process.stdin) return;
  let dir = false;
  try {
    dir = fstatSync(0).isDirectory();
  } catch {
    return;
  }
  if (dir) throw new ShadowMmuError('EINVAL_INPUT', `${cmd}: standard input is a directory (EISDIR)`);
}
