/** Money is kept in integer micro-dollars so that sums never drift. */
export type Micros = number;

export const MICROS_PER_USD = 1_000_000;
export const usdToMicros = (usd: number): Micros => Math.round(usd * MICROS_PER_USD);
export const microsToUsd = (micros: Micros): number => micros / MICROS_PER_USD;

export interface KeyRecord {
  readonly id: number;
  readonly name: string;
  /** keyHint(): the last characters of the key (a quarter at most), never enough to guess it. */
  readonly hint: string;
  /** null = unlimited. */
  readonly quotaMicros: Micros | null;
  readonly usedMicros: Micros;
  readonly reservedMicros: Micros;
  /** Model name patterns this key may use; `*` matches any run of characters. */
  readonly models: readonly string[];
  /** Epoch ms, or null for never. */
  readonly expiresAt: number | null;
  /** Requests per minute this key may make; null = no limit. */
  readonly rpm: number | null;
  readonly enabled: boolean;
  readonly createdAt: number;
}

export interface NewKey {
  readonly name: string;
  readonly quotaUsd?: number | null;
  readonly models?: readonly string[];
  readonly expiresAt?: number | null;
  readonly rpm?: number | null;
  readonly enabled?: boolean;
}

/** Where a usage row's token numbers came from. */
export type UsageSource = 'upstream' | 'estimated' | 'partial' | 'none';

export interface UsageRow {
  readonly requestId: string;
  readonly keyId: number | null;
  readonly keyName: string | null;
  readonly endpoint: string;
  readonly model: string | null;
  readonly upstreamModel: string | null;
  readonly channel: string | null;
  readonly status: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Parts of promptTokens / completionTokens with prices of their own; absent = 0. */
  readonly cacheReadTokens?: number;
  readonly cacheWrite5mTokens?: number;
  readonly cacheWrite1hTokens?: number;
  readonly reasoningTokens?: number;
  readonly costMicros: Micros;
  readonly latencyMs: number;
  readonly ttfbMs: number | null;
  readonly source: UsageSource;
  readonly errorCode: string | null;
  /** What the client was told when the request failed (absent = none). */
  readonly errorMessage?: string | null;
  /** Endpoint-specific numbers (image count/size/quality, retries…), stored as JSON. */
  readonly detail?: Readonly<Record<string, unknown>> | null;
}

export interface StoredUsageRow extends UsageRow {
  readonly id: number;
  readonly createdAt: number;
}

export interface UsageSummaryRow {
  readonly keyName: string | null;
  readonly model: string | null;
  readonly requests: number;
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  readonly reasoningTokens: number;
  readonly costMicros: Micros;
}

/** A hold on part of a key's remaining quota while a request is in flight. */
export interface Reservation {
  readonly keyId: number;
  readonly micros: Micros;
}

export interface Store {
  /**
   * Creates or updates a key by name from the config file; the key itself is only kept as a
   * hash. A key disabled since (console or CLI) stays disabled: the config cannot re-enable it.
   */
  upsertKey(key: NewKey & { readonly key: string }): KeyRecord;
  /** Generates a new key; the returned secret is shown once and never stored. */
  createKey(key: NewKey): { readonly record: KeyRecord; readonly secret: string };
  findKeyBySecret(secret: string): KeyRecord | null;
  getKey(name: string): KeyRecord | null;
  listKeys(): KeyRecord[];
  topUp(name: string, usd: number): KeyRecord;
  setEnabled(name: string, enabled: boolean): KeyRecord;
  /** Holds `micros` of the key's quota; null when the remaining quota cannot cover it. */
  reserve(keyId: number, micros: Micros): Reservation | null;
  /** reserve(), group-committed with the other holds and settlements of this turn. */
  reserveSoon(keyId: number, micros: Micros): Promise<Reservation | null>;
  /** Releases the hold, charges the real cost and records the usage row, atomically. */
  settle(reservation: Reservation | null, usage: UsageRow): void;
  /**
   * settle(), group-committed: holds and settlements queued in the same event-loop turn share
   * one transaction, in order. Resolves once this one is committed (so a caller that answers after it still
   * never answers a request whose row could be lost); rejects if it could not be written.
   */
  settleSoon(reservation: Reservation | null, usage: UsageRow): Promise<void>;
  /** Gives a hold back without charging; for when settle() itself failed. */
  release(reservation: Reservation): void;
  /** A usage row for a request that held no reservation (rejected before it could). */
  recordUsage(usage: UsageRow): void;
  /** Sum of cost over [fromMs, toMs). */
  usageTotalMicros(keyId: number, fromMs: number, toMs: number): Micros;
  listUsage(filter?: { readonly keyId?: number; readonly limit?: number }): StoredUsageRow[];
  /** Totals per key and model over [fromMs, toMs), for reports. */
  usageSummary(filter: {
    readonly keyName?: string;
    readonly fromMs: number;
    readonly toMs: number;
  }): UsageSummaryRow[];
  /** Commits queued settlements, then closes. */
  close(): void;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}
