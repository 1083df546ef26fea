/**
 * run_scenario: a kvm-probe scenario (several VM blocks) on the model. Configuration lines build
 * the current VM's guest; the first step starts it (VM, KVM_SET_SREGS, warm-up); a VM block
 * without steps is still started, so its root appears; each VM is destroyed when the next begins.
 */
import { applyToggle, configFromVmLine } from './config.js';
import { PROBE_STEP_OPS, type ProbeCmd } from './parse.js';
import { ProbeVm, type ProbeOptions, type ProbeStep } from './vcpu.js';

/**
 * Run every VM block of `cmds`; `onVm` sees each VM after its last step, before teardown;
 * `onStep` sees each step as it ends (its VM still running).
 */
export function runProbeScenario(cmds: readonly ProbeCmd[], opts: ProbeOptions, onVm?: (vm: ProbeVm) => void, onStep?: (vm: ProbeVm, step: ProbeStep) => void): ProbeVm[] {
  const vms: ProbeVm[] = [];
  let cur: ProbeVm | null = null;
  const close = () => {
    if (!cur) return;
    if (!cur.started) cur.start();
    onVm?.(cur);
    cur.finish();
  };
  for (const c of cmds) {
    if (c.op === 'vm') {
      close();
      cur = new ProbeVm(opts, configFromVmLine(c));
      vms.push(cur);
      continue;
    }
    if (!cur) {
      cur = new ProbeVm(opts, configFromVmLine(null));
      vms.push(cur);
    }
    if (PROBE_STEP_OPS.has(c.op)) {
      const st = cur.step(c);
      onStep?.(cur, st);
      continue;
    }
    if (c.pos.length === 1 && c.kv.length === 0 && applyToggle(cur.cfg, c.op, c.pos[0]!, c.line) === 0) continue;
    cur.setup(c);
  }
  close();
  return vms;
}
