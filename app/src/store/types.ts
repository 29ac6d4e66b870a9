import type { AdminStore, KeyPatch } from './admin-types.ts';

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
  /** Tokens (prompt + completion) per minute; null = no limit. */
  readonly tpm: number | null;
  readonly enabled: boolean;
  readonly createdAt: number;
}

export interface NewKey {
  readonly name: string;
  readonly quotaUsd?: number | null;
  readonly models?: readonly string[];
  readonly expiresAt?: number | null;
  readonly rpm?: number | null;
  readonly tpm?: number | null;
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

/**
 * A hold on part of a key's remaining quota while a request is in flight. It carries a lease:
 * past `expiresAt` it no longer counts against the quota, so the holds of a process that died
 * come back by themselves (no restart sweep needed, on one host or many).
 */
export interface Reservation {
  /** Opaque; lets a store find and expire this one hold. */
  readonly id: string;
  readonly keyId: number;
  readonly micros: Micros;
  /** Epoch ms at which the lease ends. */
  readonly expiresAt: number;
}

/** Key lookup (hot: callers go through key-cache.ts) and the key writes of the CLI and admin API. */
export interface KeyStore {
  findBySecret(secret: string): Promise<KeyRecord | null>;
  /** The key of `secret` if it is at hand without a lookup (a cache's hit), else undefined. */
  cachedBySecret?(secret: string): KeyRecord | undefined;
  get(name: string): Promise<KeyRecord | null>;
  list(): Promise<KeyRecord[]>;
  /**
   * Creates or updates a key by name from the config file; the key itself is only kept as a
   * hash. A key disabled since (console or CLI) stays disabled: the config cannot re-enable it.
   */
  upsertFromConfig(key: NewKey & { readonly key: string }): Promise<KeyRecord>;
  /** Generates a new key; the returned secret is shown once and never stored. */
  create(key: NewKey): Promise<{ readonly record: KeyRecord; readonly secret: string }>;
  update(name: string, patch: KeyPatch): Promise<KeyRecord>;
  topUp(name: string, usd: number): Promise<KeyRecord>;
  setEnabled(name: string, enabled: boolean): Promise<KeyRecord>;
  /** Usage rows keep the key's name; its quota and secret are gone. */
  delete(name: string): Promise<void>;
  /**
   * A number that changes whenever any key's settings change, in any process or host on the
   * store: create, upsert, update, setEnabled, delete, and topUp (it changes the quota a cached
   * record carries). Not on spend or holds (used/reserved money), which move on every request.
   * The key cache polls it to drop stale entries early.
   */
  version(): Promise<number>;
}

export interface QuotaLedger {
  /**
   * Holds `micros` of the key's quota for at most `leaseMs`; null when used + reserved (live
   * holds only) + micros would pass the quota. Never overspends, across processes and hosts.
   */
  reserve(keyId: number, micros: Micros, leaseMs: number): Promise<Reservation | null>;
  /**
   * reserve's answer when it is decided at once (holds in memory), without a promise; undefined
   * when only reserve can say. Throws as reserve rejects.
   */
  reserveNow?(keyId: number, micros: Micros, leaseMs: number): Reservation | null | undefined;
  /**
   * Releases the hold, charges the real cost (capped at what the key has left) and records the
   * usage row: one row per request. Resolves once it is durable; rejects if it could not be written.
   */
  settle(reservation: Reservation | null, usage: UsageRow): Promise<void>;
  /** Gives a hold back without charging; for when settle() itself failed. */
  release(reservation: Reservation): Promise<void>;
  /**
   * Renews a live hold's lease: it now ends `leaseMs` from now. Returns the reservation to use
   * from then on (its `expiresAt` is the new end; settle/release/extend with the old one may
   * find nothing), or null when the hold is no longer there: settled, released, its lease
   * already ended, or its key deleted. A request that runs long calls it every lease/3 or so, so
   * only a dead process's holds ever expire. Implementations: one conditional write matching
   * the hold's id and its current `expiresAt` (a compare-and-set, so two extends cannot both
   * win with the same reservation).
   */
  extend(reservation: Reservation, leaseMs: number): Promise<Reservation | null>;
}

export interface UsageStore {
  /** A usage row for a request that held no reservation (rejected before it could). */
  record(row: UsageRow): Promise<void>;
  /** Sum of cost over [fromMs, toMs). */
  totalMicros(keyId: number, fromMs: number, toMs: number): Promise<Micros>;
  /** Newest first. */
  list(filter?: { readonly keyId?: number; readonly limit?: number }): Promise<StoredUsageRow[]>;
  /** Totals per key and model over [fromMs, toMs), for reports. */
  summary(filter: {
    readonly keyName?: string;
    readonly fromMs: number;
    readonly toMs: number;
  }): Promise<UsageSummaryRow[]>;
}

/** A key's limits per minute; null = none. */
export interface RateLimits {
  readonly rpm: number | null;
  readonly tpm: number | null;
}

/** One window's reading at admission. */
export interface WindowUse {
  readonly limit: number;
  /** Requests (or tokens) counted before this request, the previous minute weighted. */
  readonly used: number;
  /** When this window refuses: how long until one more request would fit. */
  readonly waitMs: number;
}

export interface RateAdmission {
  readonly admitted: boolean;
  /** Which window refused (requests first), or null when admitted. */
  readonly refusedBy: 'requests' | 'tokens' | null;
  /** null when the key has no such limit. */
  readonly requests: WindowUse | null;
  readonly tokens: WindowUse | null;
  /** When refused: how long until the request would fit. */
  readonly waitMs: number;
}

/** RPM and TPM windows per key, exact across processes and hosts sharing the store. */
export interface RateWindows {
  /**
   * Counts one request by `keyId` at `t` if it fits both limits (a refused request counts in
   * neither). TPM refuses only when the window is already full: tokens are known at settlement.
   */
  hit(keyId: number, limits: RateLimits, t: number): Promise<RateAdmission>;
  /** Adds a settled request's tokens (prompt + completion) to the key's TPM window. */
  addTokens(keyId: number, tokens: number, t: number): Promise<void>;
}

export interface Store {
  readonly keys: KeyStore;
  readonly ledger: QuotaLedger;
  readonly usage: UsageStore;
  readonly rates: RateWindows;
  readonly admin: AdminStore;
  /** Commits queued settlements, then closes. */
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}
