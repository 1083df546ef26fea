/**
 * `shadow-mmu kvm fuzz`: random guests (the model fuzz's kvm-probe-language generator, with the
 * steps only a real KVM can show) run on this machine's KVM and on the model; every VM whose
 * runs differ is shrunk to the fewest steps that still differ and saved as a scenario file.
 * VM i's scenario comes from the seed and i alone, so any VM can be regenerated.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile } from '../profiles/index.js';
import { ddmin } from '../fuzz/shrink.js';
import { vmSeed } from '../fuzz/gen.js';
import { genGuestScenario, GUEST_MODES } from '../fuzz/gen-guest.js';
import { ShadowMmuError } from '../bits/errors.js';
import { PROBE_STEP_OPS, tokenizeLine } from '../probe/parse.js';
import type { LiveHost } from './host.js';
import { kvmDiff } from './diff.js';
import type { LiveSession } from './replay.js';

export interface KvmFuzzOptions {
  readonly seed: number;
  readonly vms: number;
  readonly steps: number;
  readonly profile: Profile;
  /** Where shrunk differences are saved (null: not saved). */
  readonly out: string | null;
  /** Reruns a shrink may spend per difference. */
  readonly shrinkRuns?: number;
  readonly onVm?: (i: number, differs: boolean) => void;
}

export interface KvmFuzzDifference {
  readonly vm: number;
  readonly seed: number;
  /** The first divergence of the shrunk scenario, as the diff engine says it. */
  readonly what: string;
  readonly steps: number;
  readonly file: string | null;
  readonly scenario: string;
}

export interface KvmFuzzResult {
  readonly vms: number;
  readonly steps: number;
  readonly events: number;
  readonly differences: readonly KvmFuzzDifference[];
  readonly modes: Readonly<Record<string, number>>;
  /** VMs the model cannot run (an instruction outside its set, after a guest rewrote its code): not compared. */
  readonly unsupported: number;
  readonly ms: number;
}

function splitScenario(text: string): { setup: string[]; steps: string[] } {
  const setup: string[] = [];
  const steps: string[] = [];
  text.split('\n').forEach((l, i) => {
    const c = tokenizeLine(l, i + 1);
    if (c !== null && PROBE_STEP_OPS.has(c.op)) steps.push(l);
    else if (l !== '') setup.push(l);
  });
  return { setup, steps };
}

export function kvmFuzz(session: LiveSession, host: LiveHost, o: KvmFuzzOptions): KvmFuzzResult {
  const t0 = Date.now();
  const modes = host.pvm ? GUEST_MODES.filter((m) => m.name === 'guest-long') : GUEST_MODES;
  const differences: KvmFuzzDifference[] = [];
  const byMode: Record<string, number> = {};
  let steps = 0;
  let events = 0;
  let unsupported = 0;
  const diff = (text: string) => kvmDiff(session, host, text, o.profile);
  const unsupportedByModel = (e: unknown) => e instanceof ShadowMmuError && /is not one the model runs/.test(e.message);
  /** Whether the runs of `text` differ (a scenario the model cannot run does not). */
  const differs = (text: string): boolean => {
    try {
      return diff(text).differs;
    } catch (e) {
      if (unsupportedByModel(e)) return false;
      throw e;
    }
  };
  for (let i = 0; i < o.vms; i++) {
    const seed = vmSeed(o.seed, i);
    const text = genGuestScenario(seed, o.steps, { modes, rich: true });
    const mode = /mode (\S+)/.exec(text)?.[1] ?? '?';
    byMode[mode] = (byMode[mode] ?? 0) + 1;
    let r: ReturnType<typeof diff>;
    try {
      r = diff(text);
    } catch (e) {
      if (!unsupportedByModel(e)) throw e;
      unsupported++;
      o.onVm?.(i, false);
      continue;
    }
    steps += r.live.steps.length;
    for (const s of r.live.steps) events += s.events.length;
    o.onVm?.(i, r.differs);
    if (!r.differs) continue;
    const { setup, steps: lines } = splitScenario(text);
    const build = (xs: readonly string[]) => [...setup, ...xs].join('\n') + '\n';
    const small = ddmin(lines, (xs) => differs(build(xs)), { n: o.shrinkRuns ?? 300 });
    const scenario = build(small);
    const what = diff(scenario).pair.summary.firstDivergence;
    const desc = what ? `vm ${what.vm} step ${what.step} (${what.label}): ${what.what}` : 'differs';
    let file: string | null = null;
    if (o.out !== null) {
      mkdirSync(o.out, { recursive: true });
      file = join(o.out, `kvm-fuzz-${o.seed}-${i}.kvm`);
      const head = `# shadow-mmu kvm fuzz --seed ${o.seed}: VM ${i} (seed ${seed}), shrunk from ${lines.length} to ${small.length} steps\n# first divergence: ${desc.replace(/\n/g, ' ')}\n# replay: shadow-mmu kvm diff ${file} --profile ${o.profile.name}\n`;
      writeFileSync(file, head + scenario);
    }
    differences.push({ vm: i, seed, what: desc, steps: small.length, file, scenario });
  }
  return { vms: o.vms, steps, events, differences, modes: byMode, unsupported, ms: Date.now() - t0 };
}
