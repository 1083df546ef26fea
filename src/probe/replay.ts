/**
 * run_scenario: a kvm-probe scenario (several VM blocks) on the model. Configuration lines build
 * the current VM's guest; the first step starts it (VM, KVM_SET_SREGS, warm-up); a VM block
 * without steps is still started, so its root appears; each VM is destroyed when the next begins.
 */
import { applyToggle, configFromVmLine, type ProbeVmConfig } from './config.js';
import { PROBE_STEP_OPS, type ProbeCmd } from './parse.js';
import { ProbeVm, type ProbeOptions, type ProbeStep } from './vcpu.js';

/** What the driver needs of a VM block: the model's ProbeVm and the live one (src/live) both are one. */
export interface ProbeBlockVm<S> {
  readonly cfg: ProbeVmConfig;
  readonly started: boolean;
  start(): void;
  finish(): void;
  step(c: ProbeCmd): S;
  setup(c: ProbeCmd): void;
}

/**
 * Drive `cmds` VM block by VM block: `open` makes each VM (a `vm` line's, or the default one),
 * configuration lines build it, the first step starts it, a block without steps is still
 * started, and each VM is finished when the next begins. `onVm` sees each VM after its last
 * step, before teardown; `onStep` each step as it ends.
 */
export function driveProbeScenario<V extends ProbeBlockVm<S>, S>(cmds: readonly ProbeCmd[], open: (cfg: ProbeVmConfig) => V, onVm?: (vm: V) => void, onStep?: (vm: V, step: S) => void): V[] {
  const vms: V[] = [];
  let cur: V | null = null;
  const close = () => {
    if (!cur) return;
    if (!cur.started) cur.start();
    onVm?.(cur);
    cur.finish();
  };
  const begin = (c: ProbeCmd | null): V => {
    const vm = open(configFromVmLine(c));
    vms.push(vm);
    return vm;
  };
  for (const c of cmds) {
    if (c.op === 'vm') {
      close();
      cur = begin(c);
      continue;
    }
    const vm: V = cur ?? (cur = begin(null));
    if (PROBE_STEP_OPS.has(c.op)) {
      const st = vm.step(c); // not inside onStep?.(...): an absent onStep would skip the step
      onStep?.(vm, st);
      continue;
    }
    if (c.pos.length === 1 && c.kv.length === 0 && applyToggle(vm.cfg, c.op, c.pos[0]!, c.line) === 0) continue;
    vm.setup(c);
  }
  close();
  return vms;
}

/** Every VM block of `cmds` on the model. */
export function runProbeScenario(cmds: readonly ProbeCmd[], opts: ProbeOptions, onVm?: (vm: ProbeVm) => void, onStep?: (vm: ProbeVm, step: ProbeStep) => void): ProbeVm[] {
  return driveProbeScenario<ProbeVm, ProbeStep>(cmds, (cfg) => new ProbeVm(opts, cfg), onVm, onStep);
}
