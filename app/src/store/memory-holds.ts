import type { Micros, Reservation } from './types.ts';

/**
 * The quota holds of the SQLite ledger's single-process mode (see SqliteLedger): kept in this
 * process's memory instead of rows of `holds`, so a hold is a map insert instead of a write
 * through the group commit. Right only while no other relay process reserves on the same file
 * (relay-lock.ts makes sure of it): a hold then needs no lease, since it dies with the only
 * process that could ever settle it. Leases are still carried (and renewed) so that the holds
 * can be written out as rows, unchanged, when another relay asks to share the file.
 *
 * Also kept: the charges of settlements decided but not yet committed (their key's used_micros
 * in the file does not count them yet), so that what is left is never overstated.
 */
export class MemoryHolds {
  readonly #holds = new Map<number, Reservation>();
  /** Per key: the sum of its holds. */
  readonly #held = new Map<number, Micros>();
  /** Per key: charges decided but not yet committed. */
  readonly #pending = new Map<number, Micros>();
  #nextId: number;

  /** `firstId`: past every row of `holds`, so the holds can become rows with their own ids. */
  constructor(firstId: number) {
    this.#nextId = firstId;
  }

  held(keyId: number): Micros {
    return this.#held.get(keyId) ?? 0;
  }

  pending(keyId: number): Micros {
    return this.#pending.get(keyId) ?? 0;
  }

  add(keyId: number, micros: Micros, expiresAt: number): Reservation {
    const hold = { id: String(this.#nextId), keyId, micros, expiresAt };
    this.#holds.set(this.#nextId++, hold);
    bump(this.#held, keyId, micros);
    return hold;
  }

  /** Removes the hold (if still there, with this lease: a compare-and-set like the rows'). */
  take(reservation: Reservation): Reservation | undefined {
    const id = Number(reservation.id);
    const hold = this.#holds.get(id);
    if (!hold || hold.expiresAt !== reservation.expiresAt) return undefined;
    this.#holds.delete(id);
    bump(this.#held, hold.keyId, -hold.micros);
    return hold;
  }

  /** QuotaLedger.extend on a hold in memory: null when it is gone or its lease moved on. */
  extend(reservation: Reservation, expiresAt: number): Reservation | null {
    const id = Number(reservation.id);
    const hold = this.#holds.get(id);
    if (!hold || hold.expiresAt !== reservation.expiresAt) return null;
    const renewed = { ...hold, expiresAt };
    this.#holds.set(id, renewed);
    return renewed;
  }

  /** A deleted key's holds go with it. */
  dropKey(keyId: number): void {
    for (const [id, hold] of this.#holds) if (hold.keyId === keyId) this.#holds.delete(id);
    this.#held.delete(keyId);
  }

  /** A settlement's charge, from when it is decided until it is committed (or failed). */
  charging(keyId: number, micros: Micros): () => void {
    bump(this.#pending, keyId, micros);
    return () => bump(this.#pending, keyId, -micros);
  }

  all(): Reservation[] {
    return [...this.#holds.values()];
  }
}

/** Adds `by` to the key's sum; a sum back at 0 leaves the map. */
function bump(map: Map<number, Micros>, keyId: number, by: Micros): void {
  const next = (map.get(keyId) ?? 0) + by;
  if (next === 0) map.delete(keyId);
  else map.set(keyId, next);
}
