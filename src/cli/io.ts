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

/** The reader of our output went away (EPIPE, e.g. `| head -1`): stop the work and exit quietly. */
export class BrokenPipe extends Error {
  constructor() {
    super('output closed');
    this.name = 'BrokenPipe';
  }
}

function broken(stream: Writable): boolean {
  return stream.destroyed || stream.writableEnded || (stream as { errored?: unknown }).errored != null;
}

/**
 * Write a chunk; resolves when the stream can take more. Throws (or rejects with) BrokenPipe
 * once the stream has failed or closed, so a command stops instead of working for nobody.
 */
export function write(stream: Writable, chunk: string): Promise<void> | void {
  if (broken(stream)) throw new BrokenPipe();
  if (!stream.write(chunk)) {
    return new Promise((resolve, reject) => {
      const done = (ok: boolean) => () => {
        stream.off('drain', onDrain);
        stream.off('error', onFail);
        stream.off('close', onFail);
        if (ok) resolve();
        else reject(new BrokenPipe());
      };
      const onDrain = done(true);
      const onFail = done(false);
      stream.once('drain', onDrain);
      stream.once('error', onFail);
      stream.once('close', onFail);
    });
  }
}

/** Let pending stream events (an EPIPE) arrive, then throw BrokenPipe if the output is gone. */
export async function checkOutput(stream: Writable): Promise<void> {
  await new Promise((r) => setImmediate(r));
  if (broken(stream)) throw new BrokenPipe();
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
