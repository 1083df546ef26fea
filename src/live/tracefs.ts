/**
 * The live runner's own tracefs instance: its own ring buffer under `instances/`, the kvmmmu
 * events and the few kvm events a step's record needs, the `fields` option (raw field values, so
 * a role word is whole), events only from the runner's pid. The global tracing state is never
 * touched; tracefs is mounted on a temporary directory when it is not mounted (root only), and
 * everything is undone on close.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveUnavailable } from './runner.js';

/** The kvm events a step's record is made of, besides kvmmmu: injected exceptions and emulated instructions. */
export const LIVE_KVM_EVENTS = ['kvm/kvm_inj_exception', 'kvm/kvm_emulate_insn', 'kvm/kvm_exit', 'kvm/kvm_page_fault'] as const;

function mountedTracefs(): string | null {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return null;
  }
  for (const l of mounts.split('\n')) {
    const [, dir, type] = l.split(' ');
    if (type === 'tracefs' && dir && existsSync(join(dir, 'instances'))) return dir;
  }
  return null;
}

export class TraceInstance {
  readonly root: string;
  readonly dir: string;
  private mountedHere: string | null = null;
  private fd: number;
  private readonly chunk = Buffer.alloc(1 << 20);
  private rest = '';
  /** Lines read since the instance was made. */
  lines = 0;

  constructor(pid: number) {
    let root = mountedTracefs();
    if (!root) {
      const dir = mkdtempSync(join(tmpdir(), 'smmu-tracefs-'));
      const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', dir], { encoding: 'utf8' });
      if (r.status !== 0) {
        rmdirSync(dir);
        throw new LiveUnavailable(`tracefs is not mounted and mounting it failed: ${(r.stderr || r.error?.message || '').trim() || 'mount exited ' + r.status}`);
      }
      this.mountedHere = dir;
      root = dir;
    }
    this.root = root;
    if (!existsSync(join(root, 'events', 'kvmmmu'))) {
      this.unmount();
      throw new LiveUnavailable(`${root}/events/kvmmmu is missing (is the kvm module loaded?)`);
    }
    this.dir = join(root, 'instances', `shadow-mmu.${process.pid}.${pid}`);
    try {
      mkdirSync(this.dir);
    } catch (e) {
      this.unmount();
      throw new LiveUnavailable(`cannot make a tracefs instance ${this.dir}: ${(e as NodeJS.ErrnoException).code}`);
    }
    this.set('tracing_on', '0');
    this.set('buffer_size_kb', '8192');
    this.set('trace_clock', 'global');
    if (!this.trySet('options/fields', '1')) {
      this.close();
      throw new LiveUnavailable('tracefs has no `fields` option (Linux >= 6.3): role words cannot be read whole');
    }
    this.set('set_event_pid', String(pid));
    this.set('events/kvmmmu/enable', '1');
    for (const e of LIVE_KVM_EVENTS) this.trySet(`events/${e}/enable`, '1');
    this.set('tracing_on', '1');
    this.fd = openSync(join(this.dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK);
  }

  private trySet(rel: string, v: string): boolean {
    try {
      writeFileSync(join(this.dir, rel), v);
      return true;
    } catch {
      return false;
    }
  }

  private set(rel: string, v: string): void {
    if (!this.trySet(rel, v)) {
      const what = `cannot write ${v} to ${join(this.dir, rel)}`;
      this.close();
      throw new LiveUnavailable(what);
    }
  }

  /** Every complete line buffered now (consumed). */
  drain(): string[] {
    let text = this.rest;
    for (;;) {
      let n = 0;
      try {
        n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n <= 0) break;
      text += this.chunk.toString('utf8', 0, n);
    }
    const nl = text.lastIndexOf('\n');
    this.rest = nl < 0 ? text : text.slice(nl + 1);
    const out = nl < 0 ? [] : text.slice(0, nl).split('\n');
    this.lines += out.length;
    return out;
  }

  close(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // closed
      }
      this.fd = -1;
    }
    if (existsSync(this.dir)) {
      this.trySet('tracing_on', '0');
      this.trySet('events/enable', '0');
      try {
        rmdirSync(this.dir);
      } catch {
        // busy: the kernel frees it when the last reader goes
      }
    }
    this.unmount();
  }

  private unmount(): void {
    if (!this.mountedHere) return;
    spawnSync('umount', [this.mountedHere]);
    try {
      rmdirSync(this.mountedHere);
    } catch {
      // still mounted
    }
    this.mountedHere = null;
  }
}
