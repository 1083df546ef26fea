/** Input helpers shared by the CPU-feature commands: addresses, files, hosts, CPUID tables, profiles. */
import { badInput } from '../bits/errors.js';
import { parseInt_, parseUnsigned } from '../bits/hex.js';
import { namedHost, NAMED_HOSTS, parseCpuinfo, parseHostJson, type HostDesc } from '../cpu/host.js';
import type { KvmCpuidEntry2 } from '../cpu/cpuid.js';
import type { Json } from '../bits/json.js';
import { parseEntries2 } from '../cpu/cpuid-json.js';
import { getProfile, PROFILE_NAMES, type Profile } from '../profiles/index.js';
import { parseJson } from '../bits/json-input.js';
import { readInput } from '../bits/input-file.js';

/** A 64-bit value from the command line (hex with 0x, `_` allowed, or decimal). */
export function parseAddr(v: unknown, where: string): bigint {
  if (v === undefined) badInput(where, 'missing');
  return parseUnsigned(v, where, 64);
}

/** An optional 64-bit value (default 0). */
export function parseOpt64(v: unknown, where: string, dflt = 0n): bigint {
  return v === undefined ? dflt : parseUnsigned(v, where, 64);
}

export function parseSmall(v: unknown, where: string, min: number, max: number): number {
  return parseInt_(v, where, min, max);
}

export function readText(path: string, where: string): string {
  return readInput(path, where);
}

/**
 * A host: a name (`ept4`, `ept4-52`, `ept5`, `ept5-no5lvl`, `npt4`, `npt5`, `npt5-no5lvl`), a
 * JSON file of raw CPUID leaves, or a /proc/cpuinfo text file.
 */
export function loadHost(spec: unknown, where: string): HostDesc {
  if (typeof spec !== 'string' || spec === '') badInput(where, `expected a host name (${NAMED_HOSTS.join(', ')}) or a file`);
  const named = namedHost(spec);
  if (named) return named;
  const text = readText(spec, where);
  return text.trimStart().startsWith('{') ? parseHostJson(text, `${where} ${spec}`) : parseCpuinfo(text, `${where} ${spec}`);
}

/** A CPUID table file: a JSON list of entries, or `{"entries": [...]}`. */
export function loadTable(path: unknown, where: string): KvmCpuidEntry2[] {
  if (typeof path !== 'string' || path === '') badInput(where, 'expected a CPUID table file (JSON)');
  const text = readText(path, where);
  const v = parseJson(text, `${where} ${path}`, 'malformed CPUID JSON') as Json;
  const list = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? (v as { entries?: Json })['entries'] : undefined;
  if (!Array.isArray(list)) badInput(`${where} ${path}`, 'expected a list of CPUID entries or {"entries": [...]}');
  return parseEntries2(list, `${where} ${path}`);
}

/** The profiles a command reports on: the ones given, else `dflt` (default: every shipped profile). */
export function profilesOf(v: unknown, dflt: readonly string[] = PROFILE_NAMES): Profile[] {
  const names = Array.isArray(v) && v.length ? (v as string[]) : typeof v === 'string' ? [v] : dflt;
  return names.map((n) => getProfile(n));
}
