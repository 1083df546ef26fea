/** The shape of a `shadow-mmu` subcommand. */
import type { Io } from './io.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full usage text printed by `--help`. */
  readonly usage: string;
  /** Runs the command; resolves to the exit code. Throws ShadowMmuError on bad input. */
  run(argv: string[], io: Io): Promise<number>;
}
