#!/usr/bin/env node
// The shadow-mmu command: runs the compiled CLI (npm install / npm run build produce dist/).
// The JIT's inlining budget first (dist/src/bits/jit.js sets it on import), before any model code runs.
import '../dist/src/bits/jit.js';
import { main } from '../dist/src/cli/main.js';

process.stdout.on('error', (e) => {
  if (e && e.code === 'EPIPE') process.exit(0);
  throw e;
});
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`shadow-mmu: internal error: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
