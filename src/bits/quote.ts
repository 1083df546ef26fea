/**
 * Short, printable renderings of input for error messages: an error line quotes at most ~80
 * characters of what it refuses, and never a raw control byte.
 */

/** The longest quote of input an error message carries. */
export const QUOTE_MAX = 80;

/** `s` with everything outside printable ASCII escaped (\n, \xNN, \uNNNN). */
export function printable(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x100) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out;
}

/** Cut `s` to at most `max` characters, marking the cut with "...". */
export function clip(s: string, max = QUOTE_MAX): string {
  return s.length <= max ? s : s.slice(0, Math.max(0, max - 3)) + '...';
}

/** Raw text (a line of a file, a token) quoted for an error: printable and at most `max` characters. */
export function snippet(s: string, max = QUOTE_MAX): string {
  return clip(printable(s.length > max * 2 ? s.slice(0, max * 2) : s), max);
}

/**
 * A value from parsed input as JSON-like text, printable and at most `max` characters. Walks at
 * most about `max` characters' worth of the value, so a huge or deeply nested value costs little.
 */
export function quote(v: unknown, max = QUOTE_MAX): string {
  const parts: string[] = [];
  let len = 0;
  const push = (s: string): boolean => {
    parts.push(s);
    len += s.length;
    return len <= max;
  };
  const walk = (x: unknown): boolean => {
    if (typeof x === 'string') return push(printable(JSON.stringify(x.length > max ? x.slice(0, max + 1) : x)));
    if (x === null || typeof x !== 'object') return push(typeof x === 'bigint' ? `${x}n` : String(x));
    if (Array.isArray(x)) {
      if (!push('[')) return false;
      for (let i = 0; i < x.length; i++) if ((i && !push(',')) || !walk(x[i])) return false;
      return push(']');
    }
    if (!push('{')) return false;
    let first = true;
    for (const k in x as Record<string, unknown>) {
      if (!Object.prototype.hasOwnProperty.call(x, k)) continue;
      if ((!first && !push(',')) || !push(printable(JSON.stringify(k)) + ':') || !walk((x as Record<string, unknown>)[k])) return false;
      first = false;
    }
    return push('}');
  };
  walk(v);
  return clip(parts.join(''), max);
}
