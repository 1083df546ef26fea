/**
 * The V8 inlining budget the model's hot paths are tuned for, set by the CLI (bin/shadow-mmu.js)
 * and the bench before any model code runs hot. A shadow fault is a chain of small kernel-shaped
 * functions (walk_addr_generic calls a helper per gPTE test, FNAME(fetch) a dozen per level): with
 * V8's default cumulative budget (920 bytecode bytes per optimised function) TurboFan stops
 * inlining them part way down the chain, and the calls left cost more than the work. The flags
 * change what the JIT inlines, never what the code computes. Measured in the session that added
 * it: leaf fault ~0.8x its time, the rest neutral (paired runs of two processes, CPU time).
 */
import { setFlagsFromString } from 'node:v8';

export const JIT_FLAGS = ['--max-inlined-bytecode-size-cumulative=10000', '--max-inlined-bytecode-size-absolute=20000'] as const;

/** Apply JIT_FLAGS to this process (idempotent; functions already optimised keep their code). */
export function applyJitFlags(): void {
  for (const f of JIT_FLAGS) setFlagsFromString(f);
}

applyJitFlags();
