/**
 * The DynamoDB clients of the store, loaded on first use: the SDK is imported dynamically so
 * that the SQLite default pays nothing for it at start.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RelayError } from '../../errors.ts';
import { tableNames } from './tables.ts';
import type { TableNames } from './tables.ts';

export interface DynamoStoreOptions {
  /** @default 'llm-relay-' */
  readonly tablePrefix?: string;
  readonly region?: string;
  /** Only for tests (dynalite) and local development. */
  readonly endpoint?: string;
  /** For tests: fixed credentials instead of the default chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Raw usage rows expire (TTL) this many days after they were written; rollups stay. */
  readonly retentionDays?: number | null;
  /** The zone daily rollups are counted in (config `usage.timeZone`). @default 'UTC' */
  readonly timeZone?: string;
  readonly now?: () => number;
  /** Told of every ledger conflict and retry, for logs and metrics. */
  readonly onEvent?: (event: DynamoStoreEvent) => void;
}

export type DynamoStoreEvent =
  /** A conditional write lost to another writer of the same item and was tried again. */
  | { readonly kind: 'ledger-conflict'; readonly keyId: number; readonly op: string }
  /** A hold whose lease ran out was given back to the key by a later reserve. */
  | { readonly kind: 'hold-expired'; readonly keyId: number; readonly micros: number }
  /** A counter write failed after its row was written (rollup or TPM counts may be short). */
  | { readonly kind: 'counter-failed'; readonly op: string; readonly error: string };

/** Counters a metrics exporter can read at any time. */
export interface DynamoStoreStats {
  ledgerConflicts: number;
  expiredHolds: number;
  counterFailures: number;
}

export interface Dynamo {
  /** Retries throttling and network errors (the SDK's standard mode): for idempotent writes. */
  readonly doc: DynamoDBDocumentClient;
  /**
   * No retries: for blind counter increments (ADD), which a retry after a lost response would
   * count twice. A failure is reported (counter-failed) and the count is short by one instead.
   */
  readonly once: DynamoDBDocumentClient;
  readonly tables: TableNames;
  readonly now: () => number;
  readonly stats: DynamoStoreStats;
  emit(event: DynamoStoreEvent): void;
  destroy(): void;
}

export async function openDynamo(options: DynamoStoreOptions): Promise<Dynamo> {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  const base = {
    ...(options.region !== undefined && { region: options.region }),
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
  };
  const translateConfig = {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  };
  const retrying = new DynamoDBClient(base);
  const single = new DynamoDBClient({ ...base, maxAttempts: 1 });
  for (const client of [retrying, single])
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          throw unavailable(err) ?? err;
        }
      },
      { step: 'initialize', name: 'relayStoreUnavailable' },
    );
  const stats: DynamoStoreStats = { ledgerConflicts: 0, expiredHolds: 0, counterFailures: 0 };
  return {
    doc: DynamoDBDocumentClient.from(retrying, translateConfig),
    once: DynamoDBDocumentClient.from(single, translateConfig),
    tables: tableNames(options.tablePrefix),
    now: options.now ?? Date.now,
    stats,
    emit(event) {
      if (event.kind === 'ledger-conflict') stats.ledgerConflicts++;
      else if (event.kind === 'hold-expired') stats.expiredHolds++;
      else stats.counterFailures++;
      options.onEvent?.(event);
    },
    destroy() {
      retrying.destroy();
      single.destroy();
    },
  };
}

/** Throttling, DynamoDB's own failures, or no answer at all: worth a retry by the client. */
const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/**
 * What the client is told when the store cannot answer after the SDK's retries: a 503 it can
 * retry, instead of the opaque 500 of a bug. Anything else (a missing table, access denied) is
 * a misconfiguration and stays a logged 500.
 */
function unavailable(err: unknown): RelayError | undefined {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null;
  const transient =
    TRANSIENT.has(e?.name ?? '') ||
    (e?.$metadata?.httpStatusCode ?? 0) >= 500 ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e?.code ?? '');
  if (!transient) return undefined;
  return new RelayError(
    503,
    'store_unavailable',
    'The relay could not reach its store; try again shortly.',
    {
      type: 'server_error',
      headers: { 'retry-after': '1' },
      cause: err,
    },
  );
}

/** A conditional write whose condition did not hold (the expected outcome of a lost race). */
export function isConditionFailed(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}
