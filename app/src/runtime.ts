import type { RelayConfig } from './config.ts';
import type { ImageStore } from './images/index.ts';
import type { Logger } from './logger.ts';
import { BreakerRegistry } from './routing/breaker.ts';
import type { Clock } from './routing/clock.ts';
import { systemClock } from './routing/clock.ts';
import { createUpstreamClient } from './routing/upstream-client.ts';
import type { UpstreamClient } from './routing/upstream-client.ts';
import type { Store } from './store/types.ts';
import type { AppDeps, InflightTracker } from './types.ts';

/** AppDeps with every default filled in: what routes and the proxy work with. */
export interface RelayRuntime {
  readonly config: RelayConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly breaker: BreakerRegistry;
  readonly upstream: UpstreamClient;
  readonly random: () => number;
  readonly imageStore?: ImageStore;
  readonly inflight?: InflightTracker;
  readonly workerId?: number;
  readonly build?: string;
}

/** No I/O: an undici pool and a breaker registry open nothing until first used. */
export function resolveRuntime(deps: AppDeps): RelayRuntime {
  const clock = deps.clock ?? systemClock;
  return {
    config: deps.config,
    store: deps.store,
    logger: deps.logger,
    clock,
    breaker: deps.breaker ?? new BreakerRegistry(clock, deps.config.server.breaker),
    upstream:
      deps.upstream ??
      createUpstreamClient({ connectionsPerOrigin: deps.config.server.upstreamConnections }),
    random: deps.random ?? Math.random,
    ...(deps.imageStore && { imageStore: deps.imageStore }),
    ...(deps.inflight && { inflight: deps.inflight }),
    ...(deps.workerId !== undefined && { workerId: deps.workerId }),
    ...(deps.build !== undefined && { build: deps.build }),
  };
}
