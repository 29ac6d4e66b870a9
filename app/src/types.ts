import type { RelayConfig } from './config.ts';
import type { ClientDialect } from './core/job.ts';
import type { RequestUsage } from './usage/request-usage.ts';
import type { Logger } from './logger.ts';
import type { RequestMetrics } from './metrics/request-metrics.ts';
import type { KeyRecord, Store, UsageSource } from './store/types.ts';
import type { AdminStore } from './store/admin-types.ts';
import type { ChannelState } from './routing/channel-state.ts';
import type { ImageStore } from './images/index.ts';
import type { BreakerRegistry } from './routing/breaker.ts';
import type { Clock } from './routing/clock.ts';
import type { UpstreamClient } from './routing/upstream-client.ts';

/** Everything the app needs from the outside world, handed in so tests can use real, local parts. */
export interface AppDeps {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly upstream?: UpstreamClient;
  /** Where generated images are kept; without one the image endpoints are not served. */
  readonly imageStore?: ImageStore;
  /** Weighted channel choice; injectable for deterministic tests. */
  readonly random?: () => number;
  /** Time for timeouts, backoff, breakers and latency; a manual clock in tests. */
  readonly clock?: Clock;
  /** Circuit state per channel; shared so /healthz can show it. */
  readonly breaker?: BreakerRegistry;
  /** Tracks in-flight requests (streams included) for graceful shutdown. */
  readonly inflight?: InflightTracker;
  /** The cluster worker id, when this app runs in one; shown to operators on /healthz. */
  readonly workerId?: number;
  /** The running bundle's id (see build-info.ts), reported by /healthz; absent from source. */
  readonly build?: string;
  /** Keys, usage reports, audit and sessions for /admin; without it /admin is not served. */
  readonly admin?: AdminStore;
  /** Runtime channel switches, loaded before serving; made from `admin` when absent. */
  readonly channelState?: ChannelState;
  /**
   * The request metrics, added up in the process; the server passes its own, to flush on
   * shutdown. Made from the logger when absent.
   */
  readonly requestMetrics?: RequestMetrics;
}

/** What the access log and the usage row say about one request; filled in as it goes. */
export interface RequestRecord {
  readonly startedAt: number;
  /** performance.now() at the start: the overhead header needs sub-millisecond time. */
  readonly startedAtHr: number;
  /** Time spent waiting on upstreams (and their backoff), which is not the relay's overhead. */
  upstreamWaitMs: number;
  /** Set while an upstream wait is in progress (performance.now() at its start). */
  waitingSince?: number | undefined;
  /** The relay's own time, as stamped on the response's headers. */
  relayMs?: number;
  keyName?: string;
  model?: string;
  /** The model is one a channel serves: only then is it a metric dimension (clients choose it). */
  routed?: boolean;
  upstreamModel?: string;
  channel?: string;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  costMicros?: number;
  ttfbMs?: number;
  source?: UsageSource;
  errorCode?: string;
  /** What the client was told, for the usage row (the console's request list shows it). */
  errorMessage?: string;
  attempts?: number;
  /** Resolves when the response is over, which for a stream is long after the handler returned. */
  done?: Promise<void>;
}

export interface InflightTracker {
  add(done: Promise<unknown>): void;
  /**
   * Counts work with no promise of its own (an access line still to write) until the function
   * returned is called; calls after the first do nothing.
   */
  begin(): () => void;
  readonly size: number;
  /** Resolves when nothing is in flight, or after `ms`, whichever is first; true when drained. */
  drain(ms: number): Promise<boolean>;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** The wire format the caller speaks: errors and streams answer in it. */
    dialect: ClientDialect;
    key: KeyRecord;
    record: RequestRecord;
    /** The request's usage row and quota hold (authenticated requests only). */
    usage: RequestUsage;
    /** The relay's own headers for the answer (middleware/reply-headers.ts). */
    replyHeaders: Record<string, string>;
  };
}
