import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { admit, WINDOW_MS } from '../../ratelimit/window.ts';
import type { RateAdmission, RateLimits, RateWindows, WindowUse } from '../types.ts';
import { isConditionFailed } from './client.ts';
import type { Dynamo } from './client.ts';
import { ttlSeconds } from './tables.ts';

/** Window items outlive the minute after theirs (read as "previous") and then expire. */
const KEEP_MS = 3 * WINDOW_MS;
/**
 * A minute's counts are final this long after it ended: hosts' clocks agree closer than this,
 * so nobody counts into it any more, and this process keeps them instead of reading them again.
 */
const SETTLED_MS = 5_000;
const MAX_ATTEMPTS = 5;

const pk = (keyId: number) => `rate#${keyId}`;
const sk = (start: number) => String(start).padStart(13, '0');

interface Counts {
  readonly r: number;
  readonly k: number;
}

const countsOf = (item: Record<string, unknown> | undefined): Counts => ({
  r: (item?.r as number | undefined) ?? 0,
  k: (item?.k as number | undefined) ?? 0,
});

/**
 * RPM and TPM windows as counters in the rate table: one item per key and minute (aligned to
 * the clock: pk `rate#<keyId>`, sk `<window start>`), with `r` requests and `k` tokens.
 *
 * The rule is window.ts's sliding window (the previous minute weighted by how much of it still
 * overlaps), with windows aligned to whole minutes instead of starting at a key's first request,
 * since every process must agree on which item is "this minute". A request counts itself with
 * one `ADD r 1` whose condition is that same rule (`r ≤ rpm − 1 − weighted previous`, and for
 * TPM `k ≤ tpm − 1 − weighted previous`): two processes can never both take the last place, and
 * admitted requests never conflict with each other. The previous minute's counts are final once
 * it is over, so each process reads them once per key and minute: an admitted request is one
 * round trip. A refused one reads the window to say how long to wait. Tokens are added at
 * settlement.
 */
export class DynamoRateWindows implements RateWindows {
  readonly #d: Dynamo;
  /** Finished minutes' counts, by `${keyId}:${start}`; only the latest minute's are kept. */
  readonly #settled = new Map<string, Counts>();
  #settledStart = 0;

  constructor(dynamo: Dynamo) {
    this.#d = dynamo;
  }

  async #get(keyId: number, start: number): Promise<Counts> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#d.tables.rate,
        Key: { pk: pk(keyId), sk: sk(start) },
        ConsistentRead: true,
      }),
    );
    return countsOf(out.Item);
  }

  async #read(keyId: number, start: number): Promise<{ current: Counts; previous: Counts }> {
    const out = await this.#d.doc.send(
      new QueryCommand({
        TableName: this.#d.tables.rate,
        KeyConditionExpression: 'pk = :pk AND sk >= :prev',
        ExpressionAttributeValues: { ':pk': pk(keyId), ':prev': sk(start - WINDOW_MS) },
        ConsistentRead: true,
      }),
    );
    const find = (s: string) => countsOf(out.Items?.find((i) => i.sk === s));
    return { current: find(sk(start)), previous: find(sk(start - WINDOW_MS)) };
  }

  /** The previous minute's counts: from memory once final, else read. */
  async #previous(keyId: number, start: number, t: number): Promise<Counts> {
    const id = `${keyId}:${start - WINDOW_MS}`;
    const known = this.#settled.get(id);
    if (known) return known;
    const counts = await this.#get(keyId, start - WINDOW_MS);
    if (t - start >= SETTLED_MS) {
      if (this.#settledStart !== start) {
        this.#settled.clear();
        this.#settledStart = start;
      }
      this.#settled.set(id, counts);
    }
    return counts;
  }

  #admission(
    limits: RateLimits,
    t: number,
    start: number,
    current: Counts,
    previous: Counts,
  ): RateAdmission {
    const use = (limit: number | null, count: number, prev: number) => {
      if (limit === null) return null;
      const a = admit({ start, count, previous: prev }, t, limit);
      return { admitted: a.admitted, use: { limit, used: a.used, waitMs: a.waitMs } as WindowUse };
    };
    const requests = use(limits.rpm, current.r, previous.r);
    const tokens = use(limits.tpm, current.k, previous.k);
    const refusedBy =
      requests?.admitted === false ? 'requests' : tokens?.admitted === false ? 'tokens' : null;
    return {
      admitted: refusedBy === null,
      refusedBy,
      requests: requests?.use ?? null,
      tokens: tokens?.use ?? null,
      waitMs:
        refusedBy === 'requests'
          ? requests!.use.waitMs
          : refusedBy === 'tokens'
            ? tokens!.use.waitMs
            : 0,
    };
  }

  async hit(keyId: number, limits: RateLimits, t: number): Promise<RateAdmission> {
    if (limits.rpm === null && limits.tpm === null)
      return { admitted: true, refusedBy: null, requests: null, tokens: null, waitMs: 0 };
    const start = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    // Without an rpm nothing is counted at admission (tokens come at settlement): just look.
    if (limits.rpm === null) {
      const { current, previous } = await this.#read(keyId, start);
      return this.#admission(limits, t, start, current, previous);
    }
    const overlap = 1 - (t - start) / WINDOW_MS;
    const previous = await this.#previous(keyId, start, t);
    const conditions = ['(attribute_not_exists(r) OR r <= :maxR)'];
    const values: Record<string, unknown> = {
      ':one': 1,
      ':ttl': ttlSeconds(start + KEEP_MS),
      ':maxR': Math.floor(limits.rpm - 1 - previous.r * overlap),
    };
    if (limits.tpm !== null) {
      conditions.push('(attribute_not_exists(k) OR k <= :maxK)');
      values[':maxK'] = limits.tpm - 1 - previous.k * overlap;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.#d.once.send(
          new UpdateCommand({
            TableName: this.#d.tables.rate,
            Key: { pk: pk(keyId), sk: sk(start) },
            UpdateExpression: 'SET expiresAt = :ttl ADD r :one',
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        const now = countsOf(out.Attributes);
        // What was counted before this request; admitted by the condition, whatever rounding says.
        const seen = this.#admission(limits, t, start, { r: now.r - 1, k: now.k }, previous);
        return { ...seen, admitted: true, refusedBy: null, waitMs: 0 };
      } catch (err) {
        if (!isConditionFailed(err)) throw err;
      }
      // Full: read the window to say which limit refused and for how long.
      const refused = this.#admission(limits, t, start, await this.#get(keyId, start), previous);
      if (!refused.admitted) return refused;
      // Counts only grow within a minute, so this is a hair of rounding away from full.
      if (attempt >= MAX_ATTEMPTS)
        return { ...refused, admitted: false, refusedBy: 'requests', waitMs: 1000 };
    }
  }

  async addTokens(keyId: number, tokens: number, t: number): Promise<void> {
    if (!(tokens > 0)) return;
    const start = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    try {
      await this.#d.once.send(
        new UpdateCommand({
          TableName: this.#d.tables.rate,
          Key: { pk: pk(keyId), sk: sk(start) },
          UpdateExpression: 'SET expiresAt = :ttl ADD k :k',
          ExpressionAttributeValues: {
            ':k': Math.round(tokens),
            ':ttl': ttlSeconds(start + KEEP_MS),
          },
        }),
      );
    } catch (err) {
      // Counted at most once: a retry after a lost answer could count these tokens twice.
      this.#d.emit({ kind: 'counter-failed', op: 'tpm', error: String(err) });
    }
  }
}
