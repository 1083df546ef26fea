/**
 * A VM block's configuration lines (kvm-probe's map, pte, poke, table, root, fill): they build
 * the guest in the layout's RAM, before or between steps. Shared by the model's vCPU and the
 * live runner; `cpuid` is each one's own (the model keeps KVM's supported CPUID).
 */
import { badInput } from '../bits/errors.js';
import { snippet } from '../bits/quote.js';
import type { ProbeVmConfig } from './config.js';
import type { ProbeLayout } from './layout.js';
import { kvNum, kvOf, parseProbeFlags, posNum, type ProbeCmd } from './parse.js';

function flagsOf(s: string, line: number): bigint {
  const f = parseProbeFlags(s);
  if (f === null) badInput(`line ${line}`, `bad flags ${s}`);
  return f;
}

/** map: install_map with the line's flags, page size, at/cr3 overrides. */
export function applyMapLine(L: ProbeLayout, cfg: ProbeVmConfig, c: ProbeCmd): void {
  const va = posNum(c, 0);
  const gpa = posNum(c, 1);
  let pageLevel = 1;
  const pg = kvOf(c, 'page');
  if (pg !== undefined) {
    const p = pg.toLowerCase();
    if (p === '4k') pageLevel = 1;
    else if (p === '2m' || p === '4m') pageLevel = 2;
    else if (p === '1g') pageLevel = 3;
    else badInput(`line ${c.line}`, `bad page size ${snippet(String(pg))}`);
  }
  const all = kvOf(c, 'flags');
  const def = all !== undefined ? flagsOf(all, c.line) : 7n;
  const flags: bigint[] = [];
  const have: boolean[] = [];
  const at: number[] = [];
  for (let l = 0; l < 6; l++) {
    flags[l] = def;
    have[l] = all !== undefined;
    const s = kvOf(c, `l${l}`);
    if (s !== undefined) {
      flags[l] = flagsOf(s, c.line);
      have[l] = true;
    }
    at[l] = Number(kvNum(c, `at${l}`, 0n));
  }
  have[pageLevel] = true;
  const root = Number(kvNum(c, 'cr3', cfg.cr3));
  L.installMap(root, va, gpa, pageLevel, flags, have, at, 'tblNext');
}

/** One configuration line other than `cpuid`. */
export function applySetupLine(L: ProbeLayout, cfg: ProbeVmConfig, c: ProbeCmd): void {
  switch (c.op) {
    case 'map':
    case 'hostmap':
      return applyMapLine(L, cfg, c);
    case 'pte':
    case 'poke': {
      const gpa = Number(posNum(c, 0));
      L.write(gpa, posNum(c, 1), Number(kvNum(c, 'size', BigInt(L.pteBytes))), `line ${c.line}`);
      if (c.op === 'pte') L.noteTable(gpa);
      return;
    }
    case 'table':
      return L.noteTable(Number(posNum(c, 0)));
    case 'root':
      return L.noteRoot(Number(posNum(c, 0)));
    case 'fill':
      return L.fill(Number(posNum(c, 0)), Number(posNum(c, 1)), Number(posNum(c, 2)));
    default:
      badInput(`line ${c.line}`, `unknown directive '${snippet(c.op)}'`);
  }
}
