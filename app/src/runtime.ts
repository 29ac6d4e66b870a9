import type { RelayConfig } from './config.ts';
import type { ImageStore } from './images/index.ts';
import type { Logger } from './logger.ts';
import { loggedRequestMetrics } from './metrics/request-metrics.ts';
import type { RequestMetrics } from './metrics/request-metrics.ts';
import { BreakerRegistry } from './routing/breaker.ts';
import type { Clock } from './routing/clock.ts';
import { systemClock } from './routing/clock.ts';
import { createUpstreamClient } from './routing/upstream-client.ts';
import type { UpstreamClient } from './routing/upstream-client.ts';
import type { AdminStore } from './store/admin-types.ts';
import type { Store } from './store/types.ts';
import { ChannelState, memoryChannelOverrides } from './routing/channel-state.ts';
import type { AppDeps, InflightTracker } from './types.ts';

/** AppDeps with every default filled in: what routes and the proxy work with. */
export interface RelayRuntime {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly breaker: BreakerRegistry;
  /** Channels switched on or off at runtime (admin console), on top of the config. */
  readonly channelState: ChannelState;
  /** Admin views of the store; without one, /admin is not served. */
  readonly admin?: AdminStore;
  readonly upstream: UpstreamClient;
  readonly random: () => number;
  readonly imageStore?: ImageStore;
  readonly inflight?: InflightTracker;
  readonly requestMetrics: RequestMetrics;
  readonly workerId?: number;
  readonly build?: string;
}

/**
 * No I/O: an undici pool and a breaker registry open nothing until first used; the request
 * metrics only start an unref'd timer.
 */
export function resolveRuntime(deps: AppDeps): RelayRuntime {
  const clock = deps.clock ?? systemClock;
  return {
    config: deps.config,
    store: deps.store,
    logger: deps.logger,
    clock,
    breaker: deps.breaker ?? new BreakerRegistry(clock, deps.config.server.breaker),
    channelState:
      deps.channelState ??
      new ChannelState(deps.admin?.channels ?? memoryChannelOverrides(), clock),
    ...(deps.admin && { admin: deps.admin }),
    upstream:
      deps.upstream ??
      createUpstreamClient({ connectionsPerOrigin: deps.config.server.upstreamConnections }),
    random: deps.random ?? Math.random,
    ...(deps.imageStore && { imageStore: deps.imageStore }),
    ...(deps.inflight && { inflight: deps.inflight }),
    requestMetrics: deps.requestMetrics ?? loggedRequestMetrics(deps.logger),
    ...(deps.workerId !== undefined && { workerId: deps.workerId }),
    ...(deps.build !== undefined && { build: deps.build }),
  };
}
