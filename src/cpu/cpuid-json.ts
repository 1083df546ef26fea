/**
 * CPUID entries as JSON (the `cpuid` command's and the eval contract's form): registers as hex
 * strings out; numbers or strings in, missing registers 0.
 */
import { jsonObject } from '../bits/json.js';
import { badInput } from '../bits/errors.js';
import { hex32, parseU32, parseU32Opt as u32opt } from '../bits/hex.js';
import type { Json, JsonObject } from '../bits/json.js';
import type { KvmCpuidEntry, KvmCpuidEntry2 } from './cpuid.js';

const obj = jsonObject;

function list(v: Json | undefined, where: string): Json[] {
  if (!Array.isArray(v)) badInput(where, 'expected a list');
  return v;
}

/** A CPUID entry2 from JSON (missing registers are 0). */
export function parseEntry2(v: Json | undefined, where: string): KvmCpuidEntry2 {
  const o = obj(v, where);
  return {
    function: parseU32(o['function'], `${where}.function`),
    index: u32opt(o['index'], `${where}.index`),
    flags: u32opt(o['flags'], `${where}.flags`),
    eax: u32opt(o['eax'], `${where}.eax`),
    ebx: u32opt(o['ebx'], `${where}.ebx`),
    ecx: u32opt(o['ecx'], `${where}.ecx`),
    edx: u32opt(o['edx'], `${where}.edx`),
  };
}

export function parseEntries2(v: Json | undefined, where: string): KvmCpuidEntry2[] {
  return list(v, where).map((e, i) => parseEntry2(e, `${where}[${i}]`));
}

/** A legacy CPUID entry (no index or flags). */
export function parseEntry(v: Json | undefined, where: string): KvmCpuidEntry {
  const e = parseEntry2(v, where);
  return { function: e.function, eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx };
}

export function parseEntries(v: Json | undefined, where: string): KvmCpuidEntry[] {
  return list(v, where).map((e, i) => parseEntry(e, `${where}[${i}]`));
}

export function entryJson(e: KvmCpuidEntry2): JsonObject {
  return {
    function: hex32(e.function),
    index: hex32(e.index),
    flags: hex32(e.flags),
    eax: hex32(e.eax),
    ebx: hex32(e.ebx),
    ecx: hex32(e.ecx),
    edx: hex32(e.edx),
  };
}
