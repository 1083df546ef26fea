import type { HostConfig } from '../mmu/index.js';
import { parseHostOption } from '../scenario/host-option.js';
import { usageError } from './args.js';

/** --host (or --cpuinfo, which is `--host cpuinfo`) as run options, and the host's facts. */
export function hostOpts(values: { host?: string | undefined; cpuinfo?: boolean | undefined }, command: string): { host?: Partial<HostConfig>; hostLa57?: boolean; pvm?: boolean; facts?: readonly string[] } {
  if (values.cpuinfo && values.host !== undefined) usageError(command, '--cpuinfo is --host cpuinfo: give one of them');
  const spec = values.cpuinfo ? 'cpuinfo' : values.host;
  if (spec === undefined) return {};
  const h = parseHostOption(spec);
  return { host: h.host, hostLa57: h.la57, ...(h.pvm ? { pvm: true } : {}), ...(h.facts ? { facts: h.facts } : {}) };
}

