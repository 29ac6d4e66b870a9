import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Micros, QuotaLedger, Reservation, UsageRow } from '../types.ts';
import { isConditionFailed } from './client.ts';
import type { Dynamo } from './client.ts';
import { keyPk } from './key-items.ts';
import type { KeyItem } from './key-items.ts';
import type { DynamoKeyStore } from './keys.ts';
import type { DynamoUsageStore } from './usage.ts';

interface LedgerWrite {
  readonly update: string;
  readonly condition: string;
  readonly names?: Record<string, string>;
  readonly values: Record<string, unknown>;
}

/** Tombstones of expired holds are forgotten after this long (no request runs for a day). */
const TOMBSTONE_KEEP_MS = 86_400_000;
const MAX_ATTEMPTS = 50;

/**
 * The quota ledger on the key item (see key-items.ts for the invariant). The hot paths are one
 * conditional UpdateItem each, with no read first:
 *   reserve  `SET h.<id> = {m, x} ADD avail −m` if `avail ≥ m` (or the key has no quota);
 *   settle   `REMOVE h.<id> ADD used c, avail m−c` if the hold is still there, unchanged.
 * Holds whose lease ran out stop counting without a sweep: a reserve that does not fit reads the
 * item, gives back (once, by a condition on the hold) every hold past its lease, and tries again;
 * reservedMicros as read counts live holds only. Settle is idempotent by the hold: a retry finds
 * it gone and charges nothing.
 */
export class DynamoQuotaLedger implements QuotaLedger {
  readonly #d: Dynamo;
  readonly #keys: DynamoKeyStore;
  readonly #usage: DynamoUsageStore;

  constructor(dynamo: Dynamo, keys: DynamoKeyStore, usage: DynamoUsageStore) {
    this.#d = dynamo;
    this.#keys = keys;
    this.#usage = usage;
  }

  #update(keyId: number, input: LedgerWrite) {
    return this.#d.doc.send(
      new UpdateCommand({
        TableName: this.#d.tables.keys,
        Key: { pk: keyPk(keyId), sk: 'key' },
        UpdateExpression: input.update,
        ConditionExpression: input.condition,
        ...(input.names && { ExpressionAttributeNames: input.names }),
        ExpressionAttributeValues: input.values,
      }),
    );
  }

  /** true when the write happened, false when its condition did not hold. */
  async #try(keyId: number, input: LedgerWrite): Promise<boolean> {
    try {
      await this.#update(keyId, input);
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  async reserve(keyId: number, micros: Micros, leaseMs: number): Promise<Reservation | null> {
    const amount = Math.max(0, Math.ceil(micros));
    const id = randomBytes(9).toString('base64url');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const expiresAt = this.#d.now() + leaseMs;
      const held = await this.#try(keyId, {
        update: 'SET h.#id = :hold ADD avail :neg, lv :one',
        condition: 'attribute_exists(pk) AND (attribute_not_exists(quota) OR avail >= :m)',
        names: { '#id': id },
        values: { ':hold': { m: amount, x: expiresAt }, ':neg': -amount, ':one': 1, ':m': amount },
      });
      if (held) return { id, keyId, micros: amount, expiresAt };
      if (!(await this.#giveBackExpired(keyId))) return null;
    }
    return null;
  }

  /** Gives back every hold of the key whose lease is over; false when there was none. */
  async #giveBackExpired(keyId: number): Promise<boolean> {
    const item = await this.#keys.item(keyId);
    if (!item) return false;
    const now = this.#d.now();
    const stale = Object.keys(item.h).filter(
      (id) => item.h[id]!.m === 0 && item.h[id]!.x < now - TOMBSTONE_KEEP_MS,
    );
    let freed = false;
    for (const [id, hold] of Object.entries(item.h)) {
      if (hold.m === 0 || hold.x > now) continue;
      const names: Record<string, string> = { '#id': id };
      stale.forEach((s, i) => (names[`#t${i}`] = s));
      const remove =
        stale.length > 0 ? ` REMOVE ${stale.map((_, i) => `h.#t${i}`).join(', ')}` : '';
      const done = await this.#try(keyId, {
        update: `SET h.#id.m = :zero ADD avail :m, lv :one${remove}`,
        condition: 'h.#id.m = :m AND h.#id.x = :x',
        names,
        values: { ':zero': 0, ':m': hold.m, ':x': hold.x, ':one': 1 },
      });
      stale.length = 0;
      // Lost the race: another process gave it back, or it was settled meanwhile. Either way
      // the room may be there now.
      freed = true;
      if (done) this.#d.emit({ kind: 'hold-expired', keyId, micros: hold.m });
    }
    return freed;
  }

  /**
   * A new lease for a hold still live: a compare-and-set on its amount and current lease end,
   * so a hold given back as expired (amount 0) or settled (gone) is never revived.
   */
  async extend(reservation: Reservation, leaseMs: number): Promise<Reservation | null> {
    const now = this.#d.now();
    const expiresAt = now + leaseMs;
    const done = await this.#try(reservation.keyId, {
      update: 'SET h.#id.x = :nx',
      condition: 'h.#id.m = :m AND h.#id.x = :x AND h.#id.x > :now',
      names: { '#id': reservation.id },
      values: {
        ':nx': expiresAt,
        ':m': reservation.micros,
        ':x': reservation.expiresAt,
        ':now': now,
      },
    });
    return done ? { ...reservation, expiresAt } : null;
  }

  async release(reservation: Reservation): Promise<void> {
    const names = { '#id': reservation.id };
    const live = await this.#try(reservation.keyId, {
      update: 'REMOVE h.#id ADD avail :m, lv :one',
      condition: 'h.#id.m = :m',
      names,
      values: { ':m': reservation.micros, ':one': 1 },
    });
    if (!live)
      await this.#try(reservation.keyId, {
        update: 'REMOVE h.#id ADD lv :one',
        condition: 'h.#id.m = :zero',
        names,
        values: { ':zero': 0, ':one': 1 },
      });
  }

  /**
   * The row first (idempotent by request id: never lost once the write returns), then the
   * charge (idempotent by the hold), then, in the rare case the charge was capped at what the
   * key had left, the row's cost brought down to it.
   */
  async settle(reservation: Reservation | null, usage: UsageRow): Promise<void> {
    const written = await this.#usage.putRow(usage);
    // The rollup and the charge touch different items: one round trip for both.
    const [, charged] = await Promise.all([
      written.rolledUp,
      this.#charge(reservation, usage, written.fresh),
    ]);
    const cost = Math.max(0, Math.ceil(usage.costMicros));
    if (charged < cost) await this.#usage.capRow(written, usage, charged);
  }

  /** What was charged: the cost, or less when capped at what the key had left. */
  async #charge(reservation: Reservation | null, usage: UsageRow, fresh: boolean): Promise<number> {
    const cost = Math.max(0, Math.ceil(usage.costMicros));
    if (usage.keyId === null) {
      if (reservation) await this.release(reservation);
      return cost;
    }
    if (reservation) return this.#chargeHold(reservation, cost);
    if (cost > 0 && fresh) return this.#chargeFree(usage.keyId, cost);
    return cost;
  }

  /** Charges `cost` and drops the hold; what was charged (less than cost when capped). */
  async #chargeHold(r: Reservation, cost: number): Promise<number> {
    const extra = cost - r.micros;
    const fast = await this.#try(r.keyId, {
      update: 'REMOVE h.#id ADD used :c, avail :back, lv :one',
      condition:
        extra > 0
          ? 'h.#id.m = :m AND (attribute_not_exists(quota) OR avail >= :extra)'
          : 'h.#id.m = :m',
      names: { '#id': r.id },
      values: {
        ':c': cost,
        ':back': r.micros - cost,
        ':one': 1,
        ':m': r.micros,
        ...(extra > 0 && { ':extra': extra }),
      },
    });
    if (fast) return cost;
    return this.#chargeSlow(r.keyId, cost, r.id);
  }

  /** A charge without a hold (a row settled without one): read, cap, write if unchanged. */
  #chargeFree(keyId: number, cost: number): Promise<number> {
    return this.#chargeSlow(keyId, cost, null);
  }

  async #chargeSlow(keyId: number, cost: number, holdId: string | null): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const item: KeyItem | null = await this.#keys.item(keyId);
      if (!item) return cost;
      const hold = holdId === null ? undefined : item.h[holdId];
      // Settled already (a retry): charging again would count it twice.
      if (holdId !== null && !hold) return cost;
      const held = hold?.m ?? 0;
      const room = item.quota === undefined ? Infinity : Math.max(0, item.avail + held);
      const charged = Math.min(cost, room);
      const done = await this.#try(keyId, {
        update: `${holdId === null ? '' : 'REMOVE h.#id '}ADD used :c, avail :back, lv :one`,
        condition: 'lv = :lv',
        ...(holdId !== null && { names: { '#id': holdId } }),
        values: { ':c': charged, ':back': held - charged, ':one': 1, ':lv': item.lv },
      });
      if (done) return charged;
      this.#d.emit({ kind: 'ledger-conflict', keyId, op: 'settle' });
    }
    throw new Error(`key ${keyId}: could not settle after ${MAX_ATTEMPTS} conflicting writes`);
  }
}
