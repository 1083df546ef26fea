/** Run the CLI in-process with captured stdout/stderr and a given stdin. */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], stdin = ''): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  err.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await main(argv, { stdout: out, stderr: err, stdin: Readable.from([stdin]) });
  return { code, stdout, stderr };
}
