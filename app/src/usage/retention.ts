import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.ts';
import type { Clock } from '../routing/clock.ts';
import type { UsageRetention } from '../store/admin-types.ts';

const MS_PER_DAY = 86_400_000;

export interface UsagePrunerOptions {
  readonly retention: UsageRetention;
  /** Raw rows older than this many days go (config `usage.retainDays`). */
  readonly retainDays: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default 500: a batch is one short write transaction, so requests never wait long on it */
  readonly batchSize?: number;
  /** @default 100 ms between batches */
  readonly pauseMs?: number;
  /** @default 1 hour between passes */
  readonly intervalMs?: number;
  /** @default 30 s after start, out of the way of start-up */
  readonly firstPassAfterMs?: number;
}

export interface UsagePruner {
  /** One pass now: deletes batches until none is left; resolves to the rows deleted. */
  pass(): Promise<number>;
  stop(): Promise<void>;
}

/** Keeps raw usage rows for `retainDays`; the daily rollups keep the totals of older days. */
export function startUsagePruner(o: UsagePrunerOptions): UsagePruner {
  const batchSize = o.batchSize ?? 500;
  const pauseMs = o.pauseMs ?? 100;
  const abort = new AbortController();
  let running: Promise<number> | undefined;

  const pass = () =>
    (running ??= (async () => {
      let deleted = 0;
      try {
        const cutoff = o.clock.now() - o.retainDays * MS_PER_DAY;
        for (;;) {
          const n = await o.retention.pruneBefore(cutoff, batchSize);
          deleted += n;
          if (n < batchSize || abort.signal.aborted) break;
          await sleep(pauseMs, undefined, { signal: abort.signal }).catch(() => {});
        }
        if (deleted > 0)
          o.logger.info({ deleted, retainDays: o.retainDays }, 'pruned old usage rows');
      } catch (err) {
        o.logger.error({ err }, 'pruning usage rows failed');
      } finally {
        running = undefined;
      }
      return deleted;
    })());

  const loop = async () => {
    let wait = o.firstPassAfterMs ?? 30_000;
    while (!abort.signal.aborted) {
      try {
        await sleep(wait, undefined, { signal: abort.signal, ref: false });
      } catch {
        return;
      }
      await pass();
      wait = o.intervalMs ?? 3_600_000;
    }
  };
  const looping = loop();

  return {
    pass,
    async stop() {
      abort.abort();
      await looping;
      await running;
    },
  };
}
