/**
 * A JSON op scenario of N steps for timing `shadow-mmu run` at scale (the 1e6-step run):
 * `node dist/bench/big-scenario.js 1000000 > big.json`, then
 * `/usr/bin/time -v node bin/shadow-mmu.js run big.json > /dev/null`. A 64-bit shadow guest loads a
 * root, then repeats a cycle that builds a path to a page table, walks it, unsyncs it, gets the
 * unsync page again, zaps the path and tops up (a handful of live pages, so the per-step audit
 * stays small): every op the run's hot loop meets, audit ok.
 * One step per line (~48 bytes a step). `topup` instead: load, then N-1 topup steps (the parse-bound
 * case: the file as test/cli/robust.test.ts builds it).
 */
const n = Number(process.argv[2] ?? 1e6);
const kind = process.argv[3] ?? 'mixed';
if (!Number.isSafeInteger(n) || n < 1 || (kind !== 'mixed' && kind !== 'topup')) throw new Error('usage: big-scenario.js STEPS [mixed|topup]');
const head = {
  comment: `${n} steps: a path built, walked, unsynced and zapped in a loop`,
  profile: 'v6.18',
  tdp: false,
  host: { vendor: 'intel', cpu: 'intel-46', nr_mmu_pages: 4096 },
  vcpu: { cr3: '0x10000', mmu: { kind: 'shadow', role: { level: 4, access: 7, efer_nx: 1, cr0_wp: 1 }, root_level: 4, shadow_root_level: 4 } },
};
function cycle(k: number): object[] {
  if (kind === 'topup') return [{ op: 'topup' }];
  const g = 0x100 + 4 * (k % 4096);
  const i = k % 512;
  return [
    { op: 'get_page', name: 'pdpt', gfn: '0x' + g.toString(16), level: 3 },
    { op: 'link', parent: 'root', index: i, child: 'pdpt' },
    { op: 'get_page', name: 'pd', gfn: '0x' + (g + 1).toString(16), level: 2 },
    { op: 'link', parent: 'pdpt', index: 2, child: 'pd' },
    { op: 'get_page', name: 'pt', gfn: '0x' + (g + 2).toString(16), level: 1 },
    { op: 'link', parent: 'pd', index: 3, child: 'pt' },
    { op: 'walk', addr: '0x' + ((BigInt(i) << 39n) | (2n << 30n) | (3n << 21n)).toString(16) },
    { op: 'unsync', gfn: '0x' + (g + 2).toString(16) },
    { op: 'get_page', name: 'pt2', gfn: '0x' + (g + 2).toString(16), level: 1 },
    { op: 'zap', page: 'pdpt' },
    { op: 'zap', page: 'pd' },
    { op: 'topup' },
  ];
}
const out: string[] = [JSON.stringify(head).slice(0, -1) + ',"steps":[\n{"op":"load"}'];
let written = 1;
let buf = out.join('');
for (let k = 0; written < n; k++) {
  for (const s of cycle(k)) {
    if (written >= n) break;
    buf += ',\n' + JSON.stringify(s);
    written++;
  }
  if (buf.length > 1 << 20) {
    process.stdout.write(buf);
    buf = '';
  }
}
process.stdout.write(buf + '\n]}\n');
