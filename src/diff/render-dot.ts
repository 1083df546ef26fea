/** The final shadow-page forests as Graphviz DOT: one cluster per profile, differences coloured. */
import type { PairDiff } from './compare.js';
import { nodeKey } from './compare.js';
import type { DiffRun } from './model.js';
import { roleLayout } from '../roles/layout.js';

function esc(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * Nodes are shadow pages (gfn, level, decoded role, unsync), edges the links with their SPTE
 * index, roots drawn double. A page only in one profile is red (first profile) or green (the
 * others); a page whose links or state differ is orange.
 */
export function renderDot(runs: readonly DiffRun[], pairs: readonly PairDiff[]): string {
  const out: string[] = ['digraph shadow_mmu_diff {', '  rankdir=TB;', '  node [shape=box, fontname="monospace", fontsize=10];', '  edge [fontname="monospace", fontsize=9];'];
  const base = runs[0]!;
  const fa = roleLayout(base.profile).fields.map((f) => f.name);
  runs.forEach((run, r) => {
    const fb = new Set(roleLayout(run.profile).fields.map((f) => f.name));
    const common = new Set(fa.filter((f) => fb.has(f) && f !== 'level'));
    const pair = r === 0 ? null : pairs[r - 1]!;
    run.vms.forEach((vm, v) => {
      const f = pair?.forests[v];
      // For the first profile, mark what any other profile lacks.
      const onlyHere = new Set<string>();
      const changed = new Set<string>();
      if (pair && f) {
        for (const n of f.onlyB) onlyHere.add(n.key);
        for (const ch of f.changed) changed.add(ch.key);
      } else {
        for (const p of pairs) {
          const g = p.forests[v];
          if (!g) continue;
          for (const n of g.onlyA) onlyHere.add(n.key);
          for (const ch of g.changed) changed.add(ch.key);
        }
      }
      const id = `p${r}v${v}`;
      out.push(`  subgraph cluster_${id} {`);
      out.push(`    label="${esc(run.profile.name)}${vm.name ? ' / ' + esc(vm.name) : ''}${r === 0 ? ' (base)' : ''}";`);
      const keys = new Map<number, string>();
      const seen = new Map<string, number>();
      vm.final.nodes.forEach((n, i) => {
        const k0 = nodeKey(n, common);
        const c = (seen.get(k0) ?? 0) + 1;
        seen.set(k0, c);
        keys.set(i, c === 1 ? k0 : `${k0} #${c}`);
      });
      vm.final.nodes.forEach((n, i) => {
        const k = keys.get(i)!;
        const colour = onlyHere.has(k) ? (r === 0 ? 'red' : 'green') : changed.has(k) ? 'orange' : 'black';
        const label = `gfn ${n.gfn.toString(16)}\\n${esc(n.roleText)}${n.unsync ? '\\nunsync' : ''}${n.unsync_children ? `\\nunsync_children ${n.unsync_children}` : ''}${n.root ? `\\nroot ${n.root_count}` : ''}${n.leaves.length ? `\\n${n.leaves.length} leaf SPTE(s)` : ''}`;
        out.push(`    ${id}_${i} [label="${label}", color=${colour}${colour !== 'black' ? ', fontcolor=' + colour + ', penwidth=2' : ''}${n.root ? ', peripheries=2' : ''}, tooltip="${esc(k)}"];`);
      });
      vm.final.nodes.forEach((n, i) => {
        for (const l of n.links) out.push(`    ${id}_${i} -> ${id}_${l.child} [label="${l.index}"];`);
      });
      out.push('  }');
    });
  });
  out.push('}');
  return out.join('\n') + '\n';
}
