/** Something in flight whose quota hold's lease must not end while it runs. */
export interface Renewable {
  renewLease(): void;
}

/**
 * Keeps the quota holds of running requests alive (QuotaLedger.extend), so that only a dead
 * process's holds ever expire. One interval for all of them, not a timer per request: a request
 * costs a Set add and delete, and the interval runs only while some request holds quota. Each
 * renewal happens every lease/3, so a hold is renewed twice before its lease could end.
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

  add(r: Renewable): void {
    this.#live.add(r);
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      for (const live of this.#live) live.renewLease();
    }, this.#everyMs);
    // The relay's shutdown waits for requests, not for this.
    this.#timer.unref();
  }

  delete(r: Renewable): void {
    if (!this.#live.delete(r) || this.#live.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** How many holds are being kept (for tests and metrics). */
  get size(): number {
    return this.#live.size;
  }
}
