/**
 * eval adapters for the real-KVM shadow records (golden/kvm): `write_tracking` and
 * `root_transition` replay their `scenario` on the model (src/probe, the same executor
 * `shadow-mmu run` drives) and answer one step object per recorded step; `root_role` rebuilds
 * the record's VM as gen-oracle.mjs wrote it and answers the root role and the get_page events
 * of the warm-up and the access; walk records (kind "walk", registered in src/eval/walker.ts)
 * are answered by evalKvmWalkRecord from the same replay. All under profile v6.18 on the
 * recorded machine's limits.
 */
import { jsonObject } from '../bits/json.js';
import { badInput } from '../bits/errors.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { getProfile } from '../profiles/index.js';
import { oracleMmuEvents, oracleStep } from '../probe/encode.js';
import { parseProbeScenario, probeFlagString } from '../probe/parse.js';
import { runProbeScenario } from '../probe/replay.js';
import { RECORDED_HOST, type ProbeStep, type ProbeVm } from '../probe/vcpu.js';
import type { EvalTable, Json, JsonObject } from './types.js';
import { quote } from '../bits/quote.js';

/** The test address of every kvm record: PML4 1, PDPT 2, PD 3, PT 4. */
const VA = '0x8080604000';

const obj = jsonObject;

function flag(o: JsonObject, k: string, where: string): number {
  const v = o[k] ?? 0;
  if (v === 0 || v === 1) return v;
  if (v === true || v === false) return v ? 1 : 0;
  badInput(`${where}.${k}`, `expected 0 or 1, got ${quote(v)}`);
}

/** Replay kvm-probe lines on the model (profile v6.18, the recorded machine) and return its VMs. */
export function replayProbe(lines: readonly string[]): ProbeVm[] {
  return runProbeScenario(parseProbeScenario(lines), { profile: getProfile('v6.18'), pvm: true, audit: false, host: RECORDED_HOST });
}

function scenarioOf(rec: JsonObject): string[] {
  const sc = rec['scenario'];
  if (!Array.isArray(sc) || sc.some((l) => typeof l !== 'string')) badInput('scenario', 'expected an array of scenario lines');
  return sc as string[];
}

/** write_tracking / root_transition: {steps: [{op, args, exit, exceptions, value?, mmu, ...}]} of the first VM. */
export function evalKvmSequence(rec: JsonObject): JsonObject {
  const vms = replayProbe(scenarioOf(rec));
  const vm = vms[0];
  if (!vm) badInput('scenario', 'no VM');
  return { steps: vm.steps.map((s) => oracleStep(s)) };
}

function getPages(s: ProbeStep | undefined): Json[] {
  return s ? oracleMmuEvents(s.events).filter((e) => e['ev'] === 'get_page') : [];
}

/** The VM gen-oracle.mjs built for a root_role record. */
export function rootRoleScenario(rec: JsonObject): string[] {
  const id = String(rec['id'] ?? 'root');
  const start = rec['start_mode'] ?? 'long';
  const c = obj(rec['controls'], 'controls');
  const wp = flag(c, 'wp', 'controls');
  const nx = flag(c, 'nx', 'controls');
  if (start === 'long') {
    const cpl = parseInt_(rec['cpl'] ?? 3, 'cpl', 0, 3);
    return [
      `vm name=${id} cpl=${cpl} wp=${wp} nx=${nx} smep=${flag(c, 'smep', 'controls')} smap=${flag(c, 'smap', 'controls')} pke=${flag(c, 'pke', 'controls')}`,
      `map ${VA} 0x300000`,
      `read ${VA}`,
    ];
  }
  if (start !== 'real' && start !== 'prot') badInput('start_mode', `expected long, real or prot, got ${quote(start)}`);
  const req = rec['requested'] === undefined ? {} : obj(rec['requested'], 'requested');
  const cr0 = req['cr0'] !== undefined ? parseUnsigned(req['cr0'], 'requested.cr0') : BigInt((start === 'real' ? 0x10 : 0x33) | (wp << 16));
  const efer = req['efer'] !== undefined ? parseUnsigned(req['efer'], 'requested.efer') : nx ? 0x800n : 0n;
  return [`vm name=${id} mode=${start} cr0=0x${cr0.toString(16)} efer=0x${efer.toString(16)}`, 'read 0x1000 size=1'];
}

/** root_role: {root_role, root_role_fields, warmup_get_page, access_get_page, effective}. */
export function evalKvmRootRole(rec: JsonObject): JsonObject {
  const vm = replayProbe(rootRoleScenario(rec))[0]!;
  const [warm, access] = vm.steps;
  const warmup = getPages(warm);
  const first = (warmup[0] ?? getPages(access)[0]) as JsonObject | undefined;
  const role = first ? Number(first['role']) : null;
  const out: JsonObject = {
    root_role: first ? first['role']! : null,
    warmup_get_page: warmup,
    access_get_page: getPages(access),
  };
  if (role !== null) out['root_role_fields'] = roleFields(role);
  if (warm?.regs) out['effective'] = { cr0: '0x' + warm.regs.cr0.toString(16), cr4: '0x' + warm.regs.cr4.toString(16), efer: '0x' + warm.regs.efer.toString(16) };
  return out;
}

/** The 6.18 role word spelled out as the tool's role_fields. */
function roleFields(r: number): JsonObject {
  const f = (sh: number, m: number) => (r >>> sh) & m;
  return {
    level: f(0, 15),
    has_4_byte_gpte: f(4, 1),
    quadrant: f(5, 3),
    direct: f(7, 1),
    access: f(8, 7),
    invalid: f(11, 1),
    efer_nx: f(12, 1),
    cr0_wp: f(13, 1),
    smep_andnot_wp: f(14, 1),
    smap_andnot_wp: f(15, 1),
    ad_disabled: f(16, 1),
    guest_mode: f(17, 1),
    passthrough: f(18, 1),
    is_mirror: f(19, 1),
    smm: f(24, 255),
  };
}

/** The VM gen-oracle.mjs built for a walk record: warm-up, `ptes`, then the one access. */
export function walkScenario(rec: JsonObject): string[] {
  const id = String(rec['id'] ?? 'walk');
  const cpl = parseInt_(rec['cpl'], 'cpl', 0, 3);
  const c = obj(rec['controls'], 'controls');
  const v = obj(rec['varied'], 'varied');
  const level = parseInt_(v['level'], 'varied.level', 1, 5);
  const entry = parseUnsigned(v['entry'], 'varied.entry');
  const page = v['page'] === undefined ? '4k' : String(v['page']);
  const group = String(v['group'] ?? '');
  const gpa = page === '2m' ? '0x400000' : page === '1g' ? '0x0' : group === 'mmio' ? '0x8000000' : '0x300000';
  const access = obj(rec['access'], 'access');
  const kind = access['kind'];
  if (kind !== 'read' && kind !== 'write' && kind !== 'fetch') badInput('access.kind', `expected read, write or fetch, got ${quote(kind)}`);
  const va = '0x' + parseUnsigned(rec['va'] ?? VA, 'va').toString(16);
  const pkru = c['pkru'] === undefined ? '' : ` pkru=0x${parseUnsigned(c['pkru'], 'controls.pkru', 32).toString(16)}`;
  return [
    `vm name=${id} cpl=${cpl} wp=${flag(c, 'wp', 'controls')} smep=${flag(c, 'smep', 'controls')} smap=${flag(c, 'smap', 'controls')} pke=${flag(c, 'pke', 'controls')} nx=${flag(c, 'nx', 'controls')}${pkru}`,
    `map ${va} ${gpa}${page === '4k' ? '' : ' page=' + page} l${level}=${probeFlagString(entry)}`,
    `ptes ${va}`,
    `${kind} ${va}${kind === 'write' ? ' val=0x5a' : ''}`,
  ];
}

/**
 * kvm walk records (kind "walk") -> { outcome, fault, target_walks, gptes_after, shadow, and
 * the rest of the record's observations: exceptions, exit, exits, other_walks, emulated,
 * stats }: the record's VM replayed (the tool's guest, warm-up, `ptes`, then the one access)
 * and its access step read the way gen-oracle.mjs reads the tool's output. A CPL-3 access faults
 * natively and KVM walks with the hardware error code; a CPL-0 access is emulated and walks
 * with 0 / W / F.
 */
export function evalKvmWalkRecord(rec: JsonObject): JsonObject {
  const vm = replayProbe(walkScenario(rec))[0]!;
  const step = vm.steps[vm.steps.length - 1]!;
  const st = oracleStep(step);
  const va = parseUnsigned(rec['va'] ?? VA, 'va');
  const walks = st['walks'] as JsonObject[];
  const exits = step.exits;
  const first = step.exceptions[0];
  const exit = exits.length ? exits[exits.length - 1]! : null;
  const outcome =
    exits[0] === 'MMIO'
      ? 'mmio_exit'
      : !first
        ? exit === 'DEBUG'
          ? 'ok'
          : `exit_${exit}`
        : first[0] === 1 || first[0] === 3
          ? 'ok'
          : first[0] === 14
            ? 'page_fault'
            : `exception_${first[0]}`;
  const pf = step.exceptions.find((e) => e[0] === 14);
  return {
    outcome,
    fault: pf ? { error_code: pf[1] ?? 0 } : null,
    target_walks: walks.filter((w) => BigInt(String(w['addr'])) === va),
    other_walks: walks.filter((w) => BigInt(String(w['addr'])) !== va),
    gptes_after: st['gptes_after'] ?? [],
    shadow: st['mmu']!,
    exceptions: st['exceptions']!,
    exit,
    exits: [...exits],
    emulated: step.emulated.length > 0,
    stats: st['stats'] ?? null,
  };
}

export const kvmEval: EvalTable = {
  kinds: {
    write_tracking: evalKvmSequence,
    root_transition: evalKvmSequence,
    root_role: evalKvmRootRole,
  },
};
