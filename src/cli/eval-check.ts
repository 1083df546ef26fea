/** `shadow-mmu eval --check FILES...`: oracle files (plain or gzip JSON Lines) against the model. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { inputChunks } from '../bits/input-stream.js';
import { ShadowMmuError } from '../bits/errors.js';
import { checkRecord } from '../eval/check.js';
import type { JsonObject } from '../bits/json.js';
import { write, type Io } from './io.js';

interface FileTally {
  ok: number;
  total: number;
  unchecked: number;
}

async function* lines(file: string): AsyncGenerator<string> {
  const raw = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', (e: NodeJS.ErrnoException) => reject(new ShadowMmuError('EINVAL_INPUT', `eval --check: cannot read ${file}: ${e.code ?? e.message}`)));
  });
  yield* createInterface({ input: Readable.from(inputChunks(raw, `eval --check: ${file}`)), crlfDelay: Infinity });
}

/** Check every record of every file; one summary line per file, one line per mismatch. Exit 1 on any mismatch. */
export async function runEvalCheck(files: readonly string[], io: Io): Promise<number> {
  let bad = 0;
  for (const file of files) {
    const t: FileTally = { ok: 0, total: 0, unchecked: 0 };
    const mismatches: string[] = [];
    let n = 0;
    for await (const line of lines(file)) {
      n++;
      if (line.trim() === '') continue;
      let rec: JsonObject;
      try {
        rec = JSON.parse(line) as JsonObject;
      } catch (e) {
        throw new ShadowMmuError('EINVAL_INPUT', `eval --check: ${file} line ${n}: invalid JSON: ${(e as Error).message}`);
      }
      let r;
      try {
        r = checkRecord(rec, t.total);
      } catch (e) {
        if (!(e instanceof ShadowMmuError)) throw e;
        r = { id: String(rec['id'] ?? `line ${n}`), diff: `error: ${e.message}` };
      }
      if (r === null) {
        t.unchecked++;
        continue;
      }
      t.total++;
      if (r.diff === null) t.ok++;
      else mismatches.push(`  MISMATCH ${r.id}: ${r.diff}`);
    }
    if (t.total === 0) throw new ShadowMmuError('EINVAL_INPUT', `eval --check: ${file} has no records with expected fields`);
    bad += t.total - t.ok;
    const extra = t.unchecked ? ` (${t.unchecked} record(s) with nothing to check)` : '';
    await write(io.stdout, [`${file}: ${t.ok}/${t.total} records match${extra}`, ...mismatches].join('\n') + '\n');
  }
  return bad ? 1 : 0;
}
