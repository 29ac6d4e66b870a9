/**
 * The admin side of the store: what the admin API reads and writes, split by job. Every call
 * returns a Promise so that a networked store (DynamoDB in fleet mode) can implement the same
 * interfaces; the SQLite implementation answers from its one connection.
 */
import type { KeyStore, Micros, StoredUsageRow } from './types.ts';

/** One page of a list, newest first; `next` is an opaque cursor for the page after it. */
export interface Page<T> {
  readonly rows: readonly T[];
  readonly next: string | null;
}

export interface KeyPatch {
  readonly quotaUsd?: number | null;
  readonly models?: readonly string[];
  readonly expiresAt?: number | null;
  readonly rpm?: number | null;
  readonly tpm?: number | null;
  readonly enabled?: boolean;
}

/** What the admin API does with keys: the store's key side itself. */
export type KeyAdmin = KeyStore;

export type UsageGroup = 'key' | 'model' | 'channel' | 'day';

export interface UsageFilter {
  readonly key?: string;
  readonly model?: string;
  readonly channel?: string;
}

/** Sums over a set of usage rows; latency sums let averages be taken after grouping. */
export interface UsageTotals {
  readonly requests: number;
  /** Status 400 and above. */
  readonly errors: number;
  /** Status 500 and above (upstream trouble, timeouts, the relay's own bugs). */
  readonly serverErrors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWrite5mTokens: number;
  readonly cacheWrite1hTokens: number;
  readonly reasoningTokens: number;
  readonly costMicros: Micros;
  readonly latencyMsSum: number;
  readonly ttfbMsSum: number;
  readonly ttfbCount: number;
}

export interface UsageGroupRow extends UsageTotals {
  /** The key name, model, channel or day; '' for rows without one (e.g. refused before routing). */
  readonly group: string;
}

export interface UsageReportQuery extends UsageFilter {
  /** Days in the store's time zone, both included. */
  readonly fromDay: string;
  readonly toDay: string;
  readonly groupBy: UsageGroup;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
}

/** The recent past from raw rows: what the overview shows as "now". */
export interface LiveStats {
  readonly requests: number;
  readonly errors: number;
  readonly serverErrors: number;
  readonly costMicros: Micros;
  /** Of requests that succeeded. */
  readonly latencyMs: Percentiles;
  /** Time to the first byte of the answer (first content, for streams), of requests that succeeded. */
  readonly ttfbMs: Percentiles;
  /** One entry per bucket from `fromMs`, empty buckets included. */
  readonly buckets: readonly {
    readonly at: number;
    readonly requests: number;
    readonly errors: number;
  }[];
}

export interface ChannelStats {
  readonly channel: string;
  readonly requests: number;
  readonly errors: number;
  readonly serverErrors: number;
  readonly latencyMs: Percentiles;
  readonly lastError: {
    readonly at: number;
    readonly status: number;
    readonly code: string | null;
    readonly message: string | null;
  } | null;
}

export interface RequestsQuery extends UsageFilter {
  readonly requestId?: string;
  /** A status code, or every error (400 and above), or every success. */
  readonly status?: number | 'error' | 'ok';
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly cursor?: string;
  readonly limit: number;
}

export interface ExportQuery extends UsageFilter {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface UsageQueries {
  /** Totals per key, model, channel or day, from the daily rollups; largest cost first (days in order). */
  report(query: UsageReportQuery): Promise<UsageGroupRow[]>;
  /** Recent raw rows in [fromMs, toMs), counted per bucket, with latency percentiles. */
  live(query: {
    readonly fromMs: number;
    readonly toMs: number;
    readonly bucketMs: number;
  }): Promise<LiveStats>;
  /** Per channel, raw rows in [fromMs, toMs). */
  channels(query: { readonly fromMs: number; readonly toMs: number }): Promise<ChannelStats[]>;
  /** When each key last made a request (keys without a retained row are absent). */
  lastUsed(keyIds: readonly number[]): Promise<Map<number, number>>;
  requests(query: RequestsQuery): Promise<Page<StoredUsageRow>>;
  /** Raw rows in [fromMs, toMs), oldest first, a batch at a time: exports never hold them all. */
  exportRows(query: ExportQuery): AsyncIterable<readonly StoredUsageRow[]>;
}

export interface UsageRetention {
  /** Deletes up to `batchSize` raw rows older than `cutoffMs`; resolves to how many went. */
  pruneBefore(cutoffMs: number, batchSize: number): Promise<number>;
}

export interface AuditEntry {
  readonly at: number;
  /** The admin key's name. */
  readonly actor: string;
  /** e.g. key.create, key.update, channel.disable, session.login. */
  readonly action: string;
  /** What was acted on, e.g. the key's or channel's name. */
  readonly target: string | null;
  /** The state before and after, never a secret. */
  readonly before: unknown;
  readonly after: unknown;
  readonly requestId: string;
  readonly ip: string | null;
}

export interface StoredAuditEntry extends AuditEntry {
  readonly id: number;
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  list(query: {
    readonly action?: string;
    readonly cursor?: string;
    readonly limit: number;
  }): Promise<Page<StoredAuditEntry>>;
}

export interface ChannelOverride {
  readonly channel: string;
  readonly enabled: boolean;
  readonly actor: string;
  readonly at: number;
}

/** Channels switched on or off from the console; kept so the switch survives a restart. */
export interface ChannelOverrides {
  list(): Promise<ChannelOverride[]>;
  set(override: ChannelOverride): Promise<void>;
  clear(channel: string): Promise<void>;
}

export interface AdminSession {
  /** SHA-256 of the cookie's value: the store never holds a usable session id. */
  readonly idHash: string;
  readonly admin: string;
  /** sessionKeyTag() of the admin key that logged in; null for sessions stored before it was. */
  readonly keyTag: string | null;
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface AdminSessions {
  /** Also forgets sessions that expired before `session.createdAt`. */
  create(session: AdminSession): Promise<void>;
  /** null when unknown or expired at `now`. */
  find(idHash: string, now: number): Promise<AdminSession | null>;
  delete(idHash: string): Promise<void>;
}

/** Failed admin logins per client address, shared by every process on the store. */
export interface LoginThrottle {
  failures(scope: string, sinceMs: number): Promise<number>;
  recordFailure(scope: string, at: number): Promise<void>;
  clear(scope: string): Promise<void>;
}

export interface AdminStore {
  readonly keys: KeyAdmin;
  readonly usage: UsageQueries;
  readonly retention: UsageRetention;
  readonly audit: AuditLog;
  readonly channels: ChannelOverrides;
  readonly sessions: AdminSessions;
  readonly throttle: LoginThrottle;
}
