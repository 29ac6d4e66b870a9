/** Something in flight whose quota hold's lease must not end while it runs. */
export interface Renewable {
  renewLease(): void;
}

/**
 * Keeps the quota holds of running requests alive (QuotaLedger.extend), so that only a dead
 * process's holds ever expire. One interval for all of them, not a timer per request: a request
 * costs a Set add and delete. The interval runs while some request holds quota and stops at its
 * first tick with none: stopping it when the last request ends instead cost a setInterval and a
 * clearInterval per request whenever requests come one at a time. Each renewal happens every
 * lease/3, so a hold is renewed twice before its lease could end.
 */
export class LeaseKeeper {
  readonly leaseMs: number;
  readonly #everyMs: number;
  readonly #live = new Set<Renewable>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(leaseMs: number, everyMs = Math.floor(leaseMs / 3)) {
    this.leaseMs = leaseMs;
    this.#everyMs = Math.max(1, everyMs);
  }

  readonly #tick = (): void => {
    if (this.#live.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    for (const live of this.#live) live.renewLease();
  };

  add(r: Renewable): void {
    this.#live.add(r);
    if (this.#timer) return;
    this.#timer = setInterval(this.#tick, this.#everyMs);
    // The relay's shutdown waits for requests, not for this.
    this.#timer.unref();
  }

  delete(r: Renewable): void {
    this.#live.delete(r);
  }

  /** How many holds are being kept (for tests and metrics). */
  get size(): number {
    return this.#live.size;
  }

  /** Whether the interval is running (it outlives the last hold by at most one tick). */
  get ticking(): boolean {
    return this.#timer !== undefined;
  }
}
