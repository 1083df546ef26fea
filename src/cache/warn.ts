/**
 * Kernel WARN*() conditions as data: the model never prints, it counts (a vector is a fresh
 * boot, so the _ONCE variants count every time, as the golden vectors do) and keeps the
 * message and place so tests and traces can say which warning fired.
 */
export interface WarnEvent {
  /** The kernel function the WARN is in, e.g. `kvm_mmu_memory_cache_alloc`. */
  readonly where: string;
  readonly what: string;
}

export class WarnLog {
  count = 0;
  readonly events: WarnEvent[] = [];

  /** WARN_ON(cond): records and returns cond, so it can sit inside an `if` like the kernel's. */
  on(cond: boolean, where: string, what: string): boolean {
    if (cond) {
      this.count++;
      if (this.events.length < 1000) this.events.push({ where, what });
    }
    return cond;
  }

  reset(): void {
    this.count = 0;
    this.events.length = 0;
  }
}
