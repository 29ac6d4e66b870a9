import type { Logger } from '../../logger.ts';
import { EMF_NAMESPACE, SERVICE } from '../../metrics/emf.ts';
import type { DynamoStoreEvent } from './client.ts';

const METRICS = [
  { Name: 'LedgerConflicts', Unit: 'Count' },
  { Name: 'ExpiredHolds', Unit: 'Count' },
  { Name: 'StoreCounterFailures', Unit: 'Count' },
] as const;

type Counts = Record<(typeof METRICS)[number]['Name'], number>;

const zero = (): Counts => ({ LedgerConflicts: 0, ExpiredHolds: 0, StoreCounterFailures: 0 });

/**
 * The DynamoDB store's own events as metrics: one Embedded Metric Format log line a minute
 * (only when something happened), which CloudWatch turns into the LedgerConflicts, ExpiredHolds
 * and StoreCounterFailures metrics of the fleet dashboard. A counter that could not be written
 * is also logged at once (a rollup or TPM count short by one row).
 */
export function storeEventMetrics(
  logger: Pick<Logger, 'info' | 'warn'>,
  options: { readonly intervalMs?: number; readonly now?: () => number } = {},
): { record(event: DynamoStoreEvent): void; flush(): void; stop(): void } {
  const now = options.now ?? Date.now;
  let counts = zero();
  const flush = () => {
    const seen = counts;
    counts = zero();
    if (Object.values(seen).every((n) => n === 0)) return;
    logger.info(
      {
        _aws: {
          Timestamp: now(),
          CloudWatchMetrics: [
            { Namespace: EMF_NAMESPACE, Dimensions: [['Service']], Metrics: METRICS },
          ],
        },
        Service: SERVICE,
        ...seen,
      },
      'store events',
    );
  };
  const timer = setInterval(flush, options.intervalMs ?? 60_000);
  timer.unref();
  return {
    record(event) {
      if (event.kind === 'ledger-conflict') counts.LedgerConflicts++;
      else if (event.kind === 'hold-expired') counts.ExpiredHolds++;
      else {
        counts.StoreCounterFailures++;
        logger.warn({ storeEvent: event }, 'a store counter was not written');
      }
    },
    flush,
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
