/**
 * The vCPU driver end to end: a kvm-probe scenario replayed on the model (guest layout, VM,
 * warm-up, steps, teardown) as eval answers the kvm oracles — one walk record's VM, the
 * flooding write-tracking scenario, and the same with the auditor after every step. Counts are
 * per replay: steps, shadow-MMU events, guest-walk events, emulated instructions.
 */
import { getProfile } from '../../src/profiles/index.js';
import { parseProbeScenario, type ProbeCmd } from '../../src/probe/parse.js';
import { runProbeScenario } from '../../src/probe/replay.js';
import { RECORDED_HOST } from '../../src/probe/vcpu.js';
import type { BenchCase, BenchSuite } from '../harness.js';

const WALK = parseProbeScenario([
  'vm name=walk cpl=3 wp=1 smep=0 smap=0 pke=0 nx=1',
  'map 0x8080604000 0x300000 l1=P|W|U',
  'ptes 0x8080604000',
  'write 0x8080604000 val=0x5a',
]);
const FLOOD = parseProbeScenario([
  'vm name=flood cpl=3 wp=1 nx=1',
  'map 0x8080604000 0x300000',
  'map 0x10000000000 0x103000',
  'map 0x10000001000 0x102000',
  'read 0x8080604000',
  'write 0x10000001100 val=0',
  'write 0x10000001100 val=0',
  'write 0x10000001100 val=0',
  'write 0x10000001100 val=0',
  'write 0x10000000020 val=0x301007',
  'read 0x8080604000',
]);

function replay(cmds: ProbeCmd[], profile: string, audit: boolean): Record<string, number> {
  const c = { steps: 0, mmu_events: 0, walk_events: 0, emulated: 0 };
  runProbeScenario(cmds, { profile: getProfile(profile), pvm: true, audit, host: RECORDED_HOST }, (vm) => {
    for (const s of vm.steps) {
      c.steps++;
      c.mmu_events += s.events.length;
      c.walk_events += s.walkEvents.length;
      c.emulated += s.emulated.length;
    }
  });
  return c;
}

function kase(name: string, cmds: ProbeCmd[], profile: string, audit: boolean): BenchCase {
  return { name, fn: () => void replay(cmds, profile, audit), counts: () => replay(cmds, profile, audit) };
}

export const kvmSuite: BenchSuite = {
  name: 'kvm',
  cases: [
    kase('walk record VM (warm-up, ptes, 1 write) v6.18', WALK, 'v6.18', false),
    kase('flooding write-tracking VM (warm-up + 7 steps) v6.18', FLOOD, 'v6.18', false),
    kase('flooding write-tracking VM (warm-up + 7 steps) v5.16', FLOOD, 'v5.16', false),
    kase('flooding write-tracking VM, audit after every step, v6.18', FLOOD, 'v6.18', true),
  ],
};
