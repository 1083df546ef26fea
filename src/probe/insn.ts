/**
 * The instructions kvm-probe puts in a code page, and a decoder for exactly those (the model
 * has no general x86 emulator): nop, int3, `mov r,[rbx]` / `mov [rbx],r` in 8/16/32/64-bit
 * operand sizes, `mov crN, rax` (CR0, CR3, CR4), wrmsr, `invlpg [rbx]` and wrpkru. Encodings follow
 * the code segment (64-, 32- or 16-bit), as the tool's enc_access does.
 */
import { badInput } from '../bits/errors.js';

export type CodeBits = 16 | 32 | 64;

export type Insn =
  | { readonly kind: 'nop'; readonly len: number }
  | { readonly kind: 'int3'; readonly len: number }
  | { readonly kind: 'mov'; readonly write: boolean; readonly size: 1 | 2 | 4 | 8; readonly len: number }
  | { readonly kind: 'movcr'; readonly cr: 0 | 3 | 4; readonly len: number }
  | { readonly kind: 'wrmsr'; readonly len: number }
  | { readonly kind: 'invlpg'; readonly len: number }
  | { readonly kind: 'wrpkru'; readonly len: number };

/** enc_access: `mov rax,[rbx]` (read) or `mov [rbx],rax` (write) of `size` bytes; null if not encodable. */
export function encodeAccess(bits: CodeBits, write: boolean, size: number): number[] | null {
  const o: number[] = [];
  const m16 = bits === 16;
  if (size === 2 && !m16) o.push(0x66);
  if (size === 4 && m16) o.push(0x66);
  if (size === 8) {
    if (bits !== 64) return null;
    o.push(0x48);
  }
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return null;
  o.push(size === 1 ? (write ? 0x88 : 0x8a) : write ? 0x89 : 0x8b);
  o.push(m16 ? 0x07 : 0x03);
  return o;
}

export const ENC_MOVCR: Readonly<Record<0 | 3 | 4, number[]>> = { 0: [0x0f, 0x22, 0xc0], 3: [0x0f, 0x22, 0xd8], 4: [0x0f, 0x22, 0xe0] };
export const ENC_WRMSR = [0x0f, 0x30];
/** WRPKRU (the model's `wrpkru` step; kvm-probe has none). */
export const ENC_WRPKRU = [0x0f, 0x01, 0xef];
export function encodeInvlpg(bits: CodeBits): number[] {
  return [0x0f, 0x01, bits === 16 ? 0x3f : 0x3b];
}

/** "0f 22 d8", "0f22d8", "0f:22:d8" -> bytes (at most 32). */
export function parseHexBytes(s: string, where: string): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < s.length && out.length < 32) {
    while (i < s.length && ' ,:-'.includes(s[i]!)) i++;
    if (i >= s.length) break;
    const t = s.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(t)) badInput(where, 'bad hex bytes');
    out.push(Number.parseInt(t, 16));
    i += 2;
  }
  if (out.length === 0) badInput(where, 'bad hex bytes');
  return out;
}

/** Decode the instruction at the start of `b` for a code segment of `bits`; null when unknown. */
export function decode(b: readonly number[], bits: CodeBits): Insn | null {
  let i = 0;
  let opsize: 2 | 4 | 8 = bits === 16 ? 2 : 4;
  let rexw = false;
  for (; i < b.length; i++) {
    if (b[i] === 0x66) opsize = bits === 16 ? 4 : 2;
    else if (bits === 64 && (b[i]! & 0xf0) === 0x40) {
      rexw = (b[i]! & 8) !== 0;
      if (b[i + 1] !== undefined && (b[i + 1]! & 0xf0) === 0x40) return null;
      i++;
      break;
    } else break;
  }
  if (rexw) opsize = 8;
  const op = b[i];
  if (op === 0x90 && i === 0) return { kind: 'nop', len: 1 };
  if (op === 0xcc && i === 0) return { kind: 'int3', len: 1 };
  const modrm = b[i + 1];
  const rbxModrm = bits === 16 ? 0x07 : 0x03;
  if ((op === 0x88 || op === 0x8a || op === 0x89 || op === 0x8b) && modrm === rbxModrm) {
    const size = op === 0x88 || op === 0x8a ? 1 : opsize;
    return { kind: 'mov', write: op === 0x88 || op === 0x89, size, len: i + 2 };
  }
  if (op === 0x0f && i === 0) {
    const o2 = b[1];
    const m = b[2];
    if (o2 === 0x22 && (m === 0xc0 || m === 0xd8 || m === 0xe0)) return { kind: 'movcr', cr: m === 0xc0 ? 0 : m === 0xd8 ? 3 : 4, len: 3 };
    if (o2 === 0x30) return { kind: 'wrmsr', len: 2 };
    if (o2 === 0x01 && m === (bits === 16 ? 0x3f : 0x3b)) return { kind: 'invlpg', len: 3 };
    if (o2 === 0x01 && m === 0xef) return { kind: 'wrpkru', len: 3 };
  }
  return null;
}
