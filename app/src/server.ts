import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { createApp } from './app.ts';
import { ConfigError, loadRelayConfig } from './config.ts';
import type { RelayConfig } from './config.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { createUpstreamClient } from './routing/upstream-client.ts';
import { SqliteStore } from './store/sqlite.ts';
import { createInflightTracker } from './inflight.ts';
import { createImageStore } from './images/index.ts';
import { parseExpiry } from './cli/parse.ts';

export interface RunningRelay {
  readonly server: ServerType;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes the store. */
  shutdown(reason?: string): Promise<void>;
}

export interface StartOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** Port 0 picks a free one (tests). */
  readonly port?: number;
  readonly host?: string;
}

/** Upserts the config file's keys; only their hashes reach the store. */
function syncConfigKeys(config: RelayConfig, store: SqliteStore): void {
  for (const k of config.keys) {
    store.upsertKey({
      name: k.name,
      key: k.key,
      quotaUsd: k.quota ?? null,
      models: k.models,
      expiresAt: k.expiresAt ? parseExpiry(k.expiresAt) : null,
      rpm: k.rpm ?? null,
      enabled: k.enabled,
    });
  }
}

export async function startRelay(options: StartOptions = {}): Promise<RunningRelay> {
  const env = options.env ?? process.env;
  const secrets: string[] = [];
  const logger =
    options.logger ?? createLogger({ level: env.LOG_LEVEL || 'info', secrets: () => secrets });
  const config = loadRelayConfig(env);
  secrets.push(
    ...config.channels.map((c) => c.apiKey),
    ...config.channels.flatMap((c) => Object.values(c.headers)),
  );
  if (config.server.originSecret) secrets.push(config.server.originSecret);
  const dataDir = env.RELAY_DATA_DIR || './data';
  const store = new SqliteStore({ path: join(dataDir, 'relay.db'), releaseStaleHolds: true });
  syncConfigKeys(config, store);
  const upstream = createUpstreamClient({
    connectionsPerOrigin: config.server.upstreamConnections,
  });
  const inflight = createInflightTracker();
  const port = options.port ?? Number(env.PORT || 8787);
  const imageStore = createImageStore(config.images, {
    dataDir,
    // Without a configured public URL, images are served by this relay on this host.
    publicBaseUrl: config.server.publicBaseUrl ?? `http://localhost:${port}`,
  });
  const app = createApp({ config, store, logger, upstream, inflight, imageStore });

  const server = await new Promise<ServerType>((resolve) => {
    const s = serve(
      { fetch: app.fetch, port, hostname: options.host ?? env.HOST ?? '0.0.0.0' },
      () => resolve(s),
    );
  });
  // Longer than CloudFront's origin keep-alive, so CloudFront never reuses a socket we just closed (502).
  if ('keepAliveTimeout' in server) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  logger.info(
    {
      port: actualPort,
      channels: config.channels.map((c) => c.name),
      keys: store.listKeys().length,
      dataDir,
    },
    'llm-relay listening',
  );
  if (config.channels.length === 0) {
    logger.warn(
      'no channels configured: set OPENAI_API_KEY (or DEEPSEEK_API_KEY, …) or write relay.config.json',
    );
  }
  if (store.listKeys().length === 0) {
    logger.warn('no client keys yet: create one with `npm run keys -- create --name <you>`');
  }

  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') =>
    (closing ??= (async () => {
      logger.info(
        { reason, inflight: inflight.size },
        'shutting down: draining in-flight requests',
      );
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      const drained = await inflight.drain(config.server.shutdownGraceMs);
      if (!drained)
        logger.warn(
          { inflight: inflight.size },
          'grace period over; closing remaining connections',
        );
      if ('closeAllConnections' in server) server.closeAllConnections();
      // Streams cut just now settle their usage rows as they unwind; let them, before the store closes.
      await inflight.drain(2_000);
      await closed;
      await upstream.close();
      store.close();
      logger.info('stopped');
    })());
  return { server, port: actualPort, shutdown };
}

const isMain = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isMain) {
  try {
    const relay = await startRelay();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        relay.shutdown(signal).then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}
