/**
 * How a key lives in the keys table. One item per key holds its settings and its quota ledger,
 * so that a hold is one conditional write on one item:
 *
 *   pk `key#<id>`, sk `key`     the key: settings, `used`, `avail`, `h` (holds), `lv`
 *   pk `names`,    sk `<name>`  name → id (unique by a conditional put; lists keys by name)
 *   pk `hash#<sha256>`, sk `hash`  secret hash → id (unique the same way)
 *   pk `meta`, sk `nextKeyId` / `keysVersion`  counters
 *
 * Ledger invariant, kept by every write to the key item: for a key with a quota,
 * `avail = quota − used − Σ h[*].m`. A hold (`h[id] = { m, x }`, x = lease end in epoch ms)
 * succeeds only while `avail ≥ m`, which is `used + reserved + m ≤ quota`. An entry with m = 0 is
 * a hold whose lease ran out and whose money went back (a tombstone): a late settle still finds
 * it and charges, a second settle does not.
 */
import type { KeyRecord } from '../types.ts';

export const NAMES_PK = 'names';
export const META_PK = 'meta';
export const keyPk = (id: number) => `key#${id}`;
export const hashPk = (hash: string) => `hash#${hash}`;

export interface Hold {
  /** Micros held; 0 once expired and given back. */
  readonly m: number;
  /** Lease end, epoch ms. */
  readonly x: number;
}

export interface KeyItem {
  readonly pk: string;
  readonly sk: 'key';
  readonly id: number;
  readonly name: string;
  readonly hash: string;
  readonly hint: string;
  /** Absent = unlimited. */
  readonly quota?: number;
  readonly used: number;
  /** quota − used − Σ holds; meaningless (and allowed to go negative) without a quota. */
  readonly avail: number;
  readonly h: Readonly<Record<string, Hold>>;
  /** Bumped by every write to the item: the optimistic lock of the rare read-then-write paths. */
  readonly lv: number;
  readonly models: readonly string[];
  /** The key's own expiry (epoch ms); not `expiresAt`, which is the table's TTL attribute. */
  readonly keyExpiresAt?: number;
  readonly rpm?: number;
  readonly tpm?: number;
  readonly enabled: boolean;
  /** Remembered apart from `enabled`, which the config file sets again at every start. */
  readonly disabledByAdmin: boolean;
  readonly createdAt: number;
}

/** Micros of live holds (leases not yet over at `now`). */
export function liveHeld(item: Pick<KeyItem, 'h'>, now: number): number {
  let sum = 0;
  for (const hold of Object.values(item.h)) if (hold.m > 0 && hold.x > now) sum += hold.m;
  return sum;
}

/** Micros of every hold still counted in `avail` (expired ones not yet given back included). */
export const counted = (item: Pick<KeyItem, 'h'>): number =>
  Object.values(item.h).reduce((s, hold) => s + hold.m, 0);

export function toKeyRecord(item: KeyItem, now: number): KeyRecord {
  return {
    id: item.id,
    name: item.name,
    hint: item.hint,
    quotaMicros: item.quota ?? null,
    usedMicros: item.used,
    reservedMicros: liveHeld(item, now),
    models: [...item.models],
    expiresAt: item.keyExpiresAt ?? null,
    rpm: item.rpm ?? null,
    tpm: item.tpm ?? null,
    enabled: item.enabled,
    createdAt: item.createdAt,
  };
}
