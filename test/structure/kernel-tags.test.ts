import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every `@kernel FILE FUNCTION` tag in src/, with where it is. */
function kernelTags(): { fn: string; where: string }[] {
  const out: { fn: string; where: string }[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          const m = /@kernel\s+(\S+)\s+([A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z0-9_]+\))?)/.exec(line);
          if (m) out.push({ fn: m[2]!, where: `${p}:${i + 1}` });
        });
      }
    }
  };
  walk('src');
  return out;
}

describe('one model per kernel function', () => {
  it('no kernel function is tagged @kernel in two places', () => {
    const by = new Map<string, string[]>();
    for (const t of kernelTags()) by.set(t.fn, [...(by.get(t.fn) ?? []), t.where]);
    const dup = [...by].filter(([, w]) => w.length > 1).map(([fn, w]) => `${fn}: ${w.join(', ')}`);
    expect(dup).toEqual([]);
  });
  it('the scan sees the tags (a broken pattern would pass the test above vacuously)', () => {
    const tags = kernelTags();
    expect(tags.length).toBeGreaterThan(250);
    expect(tags.some((t) => t.fn === 'kvm_mmu_get_page' || t.fn === '__kvm_mmu_get_shadow_page')).toBe(true);
    expect(tags.some((t) => t.fn === 'FNAME(gpte_access)')).toBe(true);
  });
});
