/**
 * The `shadow-mmu` command. Errors print one line to stderr: exit 2 for bad input or usage, 1
 * for an internal failure (never a stack trace).
 */
import { ShadowMmuError } from '../bits/errors.js';
import type { Io } from './io.js';
import { BrokenPipe, processIo, write } from './io.js';
import { COMMANDS } from './commands/index.js';

function topUsage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: shadow-mmu COMMAND [ARGS...]   (shadow-mmu COMMAND --help for details)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join('\n');
}

const MAX_MESSAGE = 300;

/**
 * An error message as one printable line: control characters and bytes that were not text
 * escaped (never raw bytes to a terminal), and at most MAX_MESSAGE characters.
 */
export function oneLine(msg: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = msg.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) => (c === '\ufffd' ? '\\ufffd' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')));
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE - 40)}... (${clean.length - MAX_MESSAGE + 40} more characters)` : clean;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    await write(io.stderr, 'shadow-mmu: expected a command (see: shadow-mmu --help)\n');
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    await write(io.stdout, topUsage() + '\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new ShadowMmuError('EUSAGE', `unknown command ${JSON.stringify(name)} (see: shadow-mmu --help)`);
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof ShadowMmuError) {
      await write(io.stderr, `shadow-mmu: ${oneLine(e.message)}\n`);
      return 2;
    }
    if (e instanceof BrokenPipe) return 0;
    if (e instanceof RangeError && /call stack/.test(e.message)) {
      // A guard behind the input limits: recursion this deep only comes from input.
      await write(io.stderr, `shadow-mmu: ${name}: input nested too deeply to process\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    await write(io.stderr, `shadow-mmu: internal error: ${oneLine(msg.split('\n')[0] ?? '')}\n`);
    return 1;
  }
}
