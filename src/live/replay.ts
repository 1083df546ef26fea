/**
 * A kvm-probe scenario on the machine's KVM, VM block by VM block, as runProbeScenario runs it on
 * the model (src/probe/replay.ts): one runner process and one tracefs instance for the whole
 * scenario, each VM destroyed when the next begins.
 */
import type { ProbeCmd } from '../probe/parse.js';
import { driveProbeScenario } from '../probe/replay.js';
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
  try {
    return driveProbeScenario<LiveVm, LiveStep>(cmds, (cfg) => new LiveVm(session.runner, session.trace, opts, cfg), onVm, onStep);
  } catch (e) {
    // A failed scenario leaves no VM behind in the runner.
    try {
      session.runner.cmd('destroy');
    } catch {
      // the runner is gone
    }
    throw e;
  }
}
