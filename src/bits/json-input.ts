/**
 * Limits on JSON input, checked before JSON.parse: a nesting depth (found by a scan that does
 * not recurse, so a 1e5-deep document is refused, never a stack overflow) and a size.
 */
import { badInput } from './errors.js';
import { snippet } from './quote.js';

/** The deepest nesting a JSON input may have. */
export const MAX_JSON_DEPTH = 256;
/** The largest input file read (a 1e6-step scenario is a few tens of MB). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/** Index of the first bracket that nests deeper than `max`, or -1. Strings are skipped. */
export function jsonTooDeepAt(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inStr = false;
    } else if (c === 0x22) inStr = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Refuse `text` if it nests deeper than `max`; `where` names the input (file, line). */
export function checkJsonDepth(text: string, where: string, max = MAX_JSON_DEPTH): void {
  const at = jsonTooDeepAt(text, max);
  if (at >= 0) badInput(where, `JSON nested deeper than ${max} levels (at offset ${at})`);
}

/** JSON.parse with the depth limit; a syntax error is a one-line input error quoting little of the input. */
export function parseJson(text: string, where: string, what = 'not valid JSON'): unknown {
  checkJsonDepth(text, where);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    badInput(where, `${what}: ${snippet((e as Error).message, 120)}`);
  }
}
