import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { admit, WINDOW_MS } from '../../ratelimit/window.ts';
import type { RateAdmission, RateLimits, RateWindows, WindowUse } from '../types.ts';
import { isConditionFailed } from './client.ts';
import type { Dynamo } from './client.ts';
import { ttlSeconds } from './tables.ts';

/** Window items outlive the minute after theirs (read as "previous") and then expire. */
const KEEP_MS = 3 * WINDOW_MS;
const MAX_ATTEMPTS = 5;

const pk = (keyId: number) => `rate#${keyId}`;
const sk = (start: number) => String(start).padStart(13, '0');

interface Counts {
  readonly r: number;
  readonly k: number;
}

/**
 * RPM and TPM windows as counters in the rate table: one item per key and minute (aligned to
 * the clock: pk `rate#<keyId>`, sk `<window start>`), with `r` requests and `k` tokens.
 *
 * The rule is window.ts's sliding window (the previous minute weighted by how much of it still
 * overlaps), with windows aligned to whole minutes instead of starting at a key's first request,
 * since every process must agree on which item is "this minute". A hit reads this minute and the
 * last (one Query), decides with admit(), and counts itself with one `ADD r 1` whose condition is
 * the same rule (`r ≤ rpm − 1 − weighted previous`): two processes can never both take the last
 * place, and admitted requests never conflict with each other. Tokens are added at settlement;
 * TPM refuses when the window has no room for one more token.
 */
export class DynamoRateWindows implements RateWindows {
  readonly #d: Dynamo;

  constructor(dynamo: Dynamo) {
    this.#d = dynamo;
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
    const counts = (s: string): Counts => {
      const item = out.Items?.find((i) => i.sk === s);
      return { r: (item?.r as number | undefined) ?? 0, k: (item?.k as number | undefined) ?? 0 };
    };
    return { current: counts(sk(start)), previous: counts(sk(start - WINDOW_MS)) };
  }

  async hit(keyId: number, limits: RateLimits, t: number): Promise<RateAdmission> {
    if (limits.rpm === null && limits.tpm === null)
      return { admitted: true, refusedBy: null, requests: null, tokens: null, waitMs: 0 };
    const start = Math.floor(t / WINDOW_MS) * WINDOW_MS;
    const overlap = 1 - (t - start) / WINDOW_MS;
    for (let attempt = 0; ; attempt++) {
      const { current, previous } = await this.#read(keyId, start);
      const use = (limit: number | null, count: number, prev: number) => {
        if (limit === null) return null;
        const a = admit({ start, count, previous: prev }, t, limit);
        return {
          admitted: a.admitted,
          use: { limit, used: a.used, waitMs: a.waitMs } as WindowUse,
        };
      };
      const requests = use(limits.rpm, current.r, previous.r);
      const tokens = use(limits.tpm, current.k, previous.k);
      const refusedBy =
        requests?.admitted === false ? 'requests' : tokens?.admitted === false ? 'tokens' : null;
      const admission: RateAdmission = {
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
      // Without an rpm nothing is counted at admission: tokens come at settlement.
      if (!admission.admitted || limits.rpm === null) return admission;
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
      try {
        await this.#d.once.send(
          new UpdateCommand({
            TableName: this.#d.tables.rate,
            Key: { pk: pk(keyId), sk: sk(start) },
            UpdateExpression: 'SET expiresAt = :ttl ADD r :one',
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeValues: values,
          }),
        );
        return admission;
      } catch (err) {
        if (!isConditionFailed(err) || attempt >= MAX_ATTEMPTS) throw err;
        // The window filled between the read and the write: read again, which refuses now.
      }
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
