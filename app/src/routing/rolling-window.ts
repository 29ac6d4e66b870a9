/**
 * Calls and failures over a sliding time window, kept as a fixed ring of buckets: a circuit's
 * memory stays the same whatever its traffic, and old buckets are reused, never collected.
 * The window slides one bucket at a time, so it covers between windowMs − windowMs/buckets and
 * windowMs of history.
 */
export class RollingWindow {
  readonly #bucketMs: number;
  /** Which bucket number (time / bucketMs) each slot holds; -Infinity = none. */
  readonly #epochs: number[];
  readonly #calls: number[];
  readonly #failures: number[];

  constructor(windowMs: number, buckets = 10) {
    const n = Math.max(1, Math.floor(buckets));
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / n));
    this.#epochs = new Array<number>(n).fill(-Infinity);
    this.#calls = new Array<number>(n).fill(0);
    this.#failures = new Array<number>(n).fill(0);
  }

  record(now: number, failed: boolean): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const slot = epoch % this.#epochs.length;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#calls[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#calls[slot]! += 1;
    if (failed) this.#failures[slot]! += 1;
  }

  totals(now: number): { calls: number; failures: number } {
    const epoch = Math.floor(now / this.#bucketMs);
    const oldest = epoch - this.#epochs.length;
    let calls = 0;
    let failures = 0;
    for (let slot = 0; slot < this.#epochs.length; slot++) {
      const e = this.#epochs[slot]!;
      if (e > oldest && e <= epoch) {
        calls += this.#calls[slot]!;
        failures += this.#failures[slot]!;
      }
    }
    return { calls, failures };
  }

  reset(): void {
    this.#epochs.fill(-Infinity);
  }
}
