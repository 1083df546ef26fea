/**
 * A kvm-probe scenario on the machine's KVM, VM block by VM block, as runProbeScenario runs it on
 * the model (src/probe/replay.ts): one runner process and one tracefs instance for the whole
 * scenario, each VM destroyed when the next begins.
 */
import { applyToggle, configFromVmLine } from '../probe/config.js';
import { PROBE_STEP_OPS, type ProbeCmd } from '../probe/parse.js';
import { KvmRunner } from './runner.js';
import { TraceInstance } from './tracefs.js';
import { LiveVm, type LiveOptions, type LiveStep } from './vm.js';

/** The runner and its trace instance, kept across scenarios (a fuzz run makes thousands of VMs). */
export class LiveSession {
  readonly runner: KvmRunner;
  readonly trace: TraceInstance;
  constructor() {
    this.runner = new KvmRunner();
    try {
      this.trace = new TraceInstance(this.runner.pid);
    } catch (e) {
      this.runner.close();
      throw e;
    }
  }
  close(): void {
    this.trace.close();
    this.runner.close();
  }
}

export function runLiveScenario(session: LiveSession, cmds: readonly ProbeCmd[], opts: LiveOptions, onVm?: (vm: LiveVm) => void, onStep?: (vm: LiveVm, step: LiveStep) => void): LiveVm[] {
  const vms: LiveVm[] = [];
  let cur: LiveVm | null = null;
  const open = (c: ProbeCmd | null) => {
    cur = new LiveVm(session.runner, session.trace, opts, configFromVmLine(c));
    vms.push(cur);
    return cur;
  };
  const close = () => {
    if (!cur) return;
    if (!cur.started) cur.start();
    onVm?.(cur);
    cur.finish();
  };
  try {
    for (const c of cmds) {
      if (c.op === 'vm') {
        close();
        open(c);
        continue;
      }
      const vm: LiveVm = cur ?? open(null);
      if (PROBE_STEP_OPS.has(c.op)) {
        const st = vm.step(c);
        onStep?.(vm, st);
        continue;
      }
      if (c.pos.length === 1 && c.kv.length === 0 && applyToggle(vm.cfg, c.op, c.pos[0]!, c.line) === 0) continue;
      vm.setup(c);
    }
    close();
  } catch (e) {
    // A failed scenario leaves no VM behind in the runner.
    try {
      session.runner.cmd('destroy');
    } catch {
      // the runner is gone
    }
    throw e;
  }
  return vms;
}
