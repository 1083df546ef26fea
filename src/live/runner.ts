/**
 * The live runner's process: native/kvm-runner.c compiled with the system `cc` on first use
 * (cached by the source's hash under ~/.cache/shadow-mmu, or $SHADOW_MMU_CACHE), started as a
 * child, and driven synchronously over two FIFOs — the model's probe code (src/probe) is
 * synchronous, and a blocking read on a FIFO is what lets the same code drive a real VM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShadowMmuError } from '../bits/errors.js';

/** Why live runs cannot happen here (no /dev/kvm, no compiler, no tracefs): exit 77 in the CLI. */
export class LiveUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'LiveUnavailable';
  }
}

/** The runner failed a command, or died: the VM's state is unknown, so the run stops. */
export class RunnerError extends ShadowMmuError {
  constructor(message: string) {
    super('ESTATE', message);
  }
}

function sourcePath(): string {
  // dist/src/live/runner.js and src/live/runner.ts are both three levels below the root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []), 'native', 'kvm-runner.c');
}

function cacheDir(): string {
  const env = process.env['SHADOW_MMU_CACHE'];
  if (env) return env;
  const home = homedir();
  return home ? join(home, '.cache', 'shadow-mmu') : join(tmpdir(), 'shadow-mmu-cache');
}

/** /dev/kvm can be opened read-write: the one precondition a test can check without building. */
export function kvmAvailable(): string | null {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return null;
  } catch (e) {
    return `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

let built: string | null = null;

/** The runner binary, compiled if this source has not been compiled before. */
export function runnerBinary(): string {
  if (built) return built;
  const src = sourcePath();
  if (!existsSync(src)) throw new LiveUnavailable(`the runner's source is missing: ${src}`);
  const text = readFileSync(src);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = cacheDir();
  const bin = join(dir, `kvm-runner-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}.tmp`;
    let why = 'no C compiler (cc, gcc, clang) on PATH';
    for (const cc of ['cc', 'gcc', 'clang']) {
      const r = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, src], { encoding: 'utf8' });
      if (r.error) continue;
      if (r.status === 0) {
        renameSync(tmp, bin);
        why = '';
        break;
      }
      why = `${cc} failed on ${src}: ${(r.stderr || '').split('\n').find((l) => /error/.test(l)) ?? r.stderr.trim().slice(0, 200)}`;
    }
    if (why) throw new LiveUnavailable(why);
  }
  built = bin;
  return bin;
}

/** Whether a process exists (signal 0 tests it without sending anything). */
function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => Atomics.wait(sleepCell, 0, 0, ms);

/** One runner process: `cmd` sends a line and returns the reply's data lines. */
export class KvmRunner {
  private readonly child: ChildProcess;
  private readonly dir: string;
  private readonly wfd: number;
  private readonly rfd: number;
  private buf = '';
  private readonly chunk = Buffer.alloc(1 << 16);
  private exited: string | null = null;
  /** Commands sent (a measure of the protocol's cost). */
  commands = 0;

  constructor() {
    const why = kvmAvailable();
    if (why) throw new LiveUnavailable(why);
    const bin = runnerBinary();
    this.dir = mkdtempSync(join(tmpdir(), 'smmu-live-'));
    const cmdPath = join(this.dir, 'cmd');
    const replyPath = join(this.dir, 'reply');
    for (const p of [cmdPath, replyPath]) {
      const r = spawnSync('mkfifo', ['-m', '600', p]);
      if (r.status !== 0) throw new LiveUnavailable(`mkfifo ${p} failed`);
    }
    this.child = spawn(bin, [cmdPath, replyPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    this.child.on('exit', (code, sig) => (this.exited = `the runner exited (${sig ?? code})${stderr ? ': ' + stderr.trim() : ''}`));
    // The reply FIFO's read end opens at once (non-blocking); the runner then opens its write
    // end and the command FIFO's read end, which the polling open below waits for.
    const nb = openSync(replyPath, constants.O_RDONLY | constants.O_NONBLOCK);
    let w = -1;
    for (let i = 0; i < 5000 && w < 0; i++) {
      try {
        w = openSync(cmdPath, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e;
        if (!alive(this.child.pid)) break;
        sleep(1);
      }
    }
    if (w < 0) {
      closeSync(nb);
      this.cleanup();
      throw new LiveUnavailable(`the runner did not start: ${spawnSync(bin, ['--version'], { encoding: 'utf8' }).stderr || 'no reply'}`);
    }
    this.wfd = w;
    // A blocking read end, now that the writer exists (reads see EOF when the runner dies).
    this.rfd = openSync(replyPath, constants.O_RDONLY);
    closeSync(nb);
  }

  /** Send one command; its data lines, or a RunnerError with the runner's message. */
  cmd(line: string): string[] {
    this.commands++;
    const data = Buffer.from(line + '\n');
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.wfd, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') sleep(1);
        else throw new RunnerError(`kvm-runner: ${this.exited ?? (e as Error).message}`);
      }
    }
    const out: string[] = [];
    for (;;) {
      let nl = this.buf.indexOf('\n');
      while (nl < 0) {
        const n = readSync(this.rfd, this.chunk, 0, this.chunk.length, null);
        if (n === 0) throw new RunnerError(`kvm-runner: ${this.exited ?? 'the runner closed its reply FIFO'} (after '${line.slice(0, 60)}')`);
        this.buf += this.chunk.toString('latin1', 0, n);
        nl = this.buf.indexOf('\n');
      }
      const l = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (l === '.') return out;
      if (l.startsWith('! ')) throw new RunnerError(`kvm-runner: ${l.slice(2)} (command '${line.slice(0, 60)}')`);
      out.push(l);
    }
  }

  /** The first data line's words after its tag (`v 0x5` -> ['0x5']). */
  one(line: string, tag: string): string[] {
    const l = this.cmd(line).find((x) => x.startsWith(tag + ' '));
    if (l === undefined) throw new RunnerError(`kvm-runner: no '${tag}' reply to '${line}'`);
    return l.split(' ').slice(1);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  close(): void {
    try {
      if (!this.exited) this.cmd('quit');
    } catch {
      // quit has no reply: the FIFO closes
    }
    try {
      closeSync(this.wfd);
      closeSync(this.rfd);
    } catch {
      // already closed
    }
    this.cleanup();
  }

  private cleanup(): void {
    if (!this.exited) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
