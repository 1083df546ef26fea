/** A live VM's guest RAM, in the runner's process, as the layout's RAM (src/probe/layout.ts ProbeRam). */
import type { ProbeRam } from '../probe/layout.js';
import type { KvmRunner } from './runner.js';

const hex = (v: bigint | number) => '0x' + v.toString(16);

export class RunnerRam implements ProbeRam {
  constructor(private readonly r: KvmRunner) {}
  readBig(gpa: number, n: 1 | 2 | 4 | 8): bigint {
    return BigInt(this.r.one(`r ${hex(gpa)} ${n}`, 'v')[0]!);
  }
  writeBig(gpa: number, v: bigint, n: 1 | 2 | 4 | 8): void {
    this.r.cmd(`w ${hex(gpa)} ${n} ${hex(BigInt.asUintN(n * 8, v))}`);
  }
  fill(gpa: number, len: number, byte: number): void {
    this.r.cmd(`fill ${hex(gpa)} ${hex(len)} ${hex(byte & 0xff)}`);
  }
  /** The runner's own read already populated the page, as a userspace VMM's read does. */
  touch(): void {}
}
