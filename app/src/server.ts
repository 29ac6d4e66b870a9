import cluster from 'node:cluster';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { createApp } from './app.ts';
import { runPrimary, runWorker } from './cluster.ts';
import { ConfigError, loadRelayConfig, parseRelayConfig, readRelayConfigInput } from './config.ts';
import type { RelayConfig } from './config.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { createUpstreamClient } from './routing/upstream-client.ts';
import { createStore, sqlitePath } from './store/create-store.ts';
import { loggedRequestMetrics } from './metrics/request-metrics.ts';
import { storeEventMetrics } from './store/dynamodb/metrics.ts';
import type { NewKey, Store } from './store/types.ts';
import { createInflightTracker } from './inflight.ts';
import { SqliteRateWindows } from './ratelimit/sqlite.ts';
import { createImageStore } from './images/index.ts';
import { parseExpiry } from './cli/parse.ts';
import { readBuildId } from './build-info.ts';
import { isMainModule } from './main-module.ts';
import type { BackupSchedule } from './store/backup.ts';
import { ChannelState } from './routing/channel-state.ts';
import { systemClock } from './routing/clock.ts';
import { startUsagePruner } from './usage/retention.ts';

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
  /** Already loaded and validated (a cluster worker gets it from the primary). */
  readonly config?: RelayConfig;
  /**
   * Set in a cluster worker. The primary already released stale holds and synced the config's
   * keys (a restarted worker doing either would wipe the live holds of the others); rate
   * windows are shared through the database; log lines carry `worker`.
   */
  readonly workerId?: number;
}

/** The config file's keys as the store takes them (the secret is hashed by the store). */
export function configKeys(config: RelayConfig): (NewKey & { readonly key: string })[] {
  return config.keys.map((k) => ({
    name: k.name,
    key: k.key,
    quotaUsd: k.quota ?? null,
    models: k.models,
    expiresAt: k.expiresAt ? parseExpiry(k.expiresAt) : null,
    rpm: k.rpm ?? null,
    tpm: k.tpm ?? null,
    enabled: k.enabled,
  }));
}

/**
 * Upserts the config file's keys; only their hashes reach the store. All at once: a networked
 * store answers them in parallel.
 */
export async function syncConfigKeys(
  config: RelayConfig,
  store: Pick<Store, 'keys'>,
): Promise<void> {
  await Promise.all(configKeys(config).map((k) => store.keys.upsertFromConfig(k)));
}

/** Provider keys, extra headers and the origin secret: what the logger blanks out of errors. */
function secretsOf(config: RelayConfig): string[] {
  return [
    ...config.channels.map((c) => c.apiKey),
    ...config.channels.flatMap((c) => Object.values(c.headers)),
    ...(config.server.originSecret ? [config.server.originSecret] : []),
  ];
}

const dbPath = sqlitePath;

/**
 * Backups go to S3: the AWS SDK they need (with the S3 image store, ~5 MB of the RSS at start) is loaded only by a relay that
 * has `backup` configured.
 */
async function startBackups(
  path: string,
  config: NonNullable<RelayConfig['backup']>,
  logger: Logger,
): Promise<BackupSchedule> {
  const { scheduleBackups } = await import('./store/backup.ts');
  return scheduleBackups({ dbPath: path, config, logger });
}

/**
 * What a start does once, before any request: schema and migrations, dropping quota holds a
 * previous run left, the config file's keys. The cluster primary runs it before forking.
 */
export async function prepareStore(config: RelayConfig, dataDir: string): Promise<void> {
  const store = await createStore(config, { dataDir, releaseStaleHolds: true });
  try {
    await syncConfigKeys(config, store);
  } finally {
    await store.close();
  }
  // Its tables too, so that workers starting together do not all race to create them.
  if (config.store.type === 'sqlite') new SqliteRateWindows({ path: dbPath(dataDir) }).close();
}

export async function startRelay(options: StartOptions = {}): Promise<RunningRelay> {
  const env = options.env ?? process.env;
  const secrets: string[] = [];
  const baseLogger =
    options.logger ?? createLogger({ level: env.LOG_LEVEL || 'info', secrets: () => secrets });
  const inWorker = options.workerId !== undefined;
  const logger = inWorker ? baseLogger.child({ worker: options.workerId }) : baseLogger;
  const config = options.config ?? loadRelayConfig(env);
  secrets.push(...secretsOf(config));
  const dataDir = env.RELAY_DATA_DIR || './data';
  const storeEvents = config.store.type === 'dynamodb' ? storeEventMetrics(logger) : undefined;
  const store = await createStore(config, {
    dataDir,
    releaseStaleHolds: !inWorker,
    sharedRates: inWorker,
    relay: inWorker ? 'worker' : 'single',
    logger,
    ...(storeEvents && { onStoreEvent: storeEvents.record }),
  });
  if (!inWorker) await syncConfigKeys(config, store);
  // Channels switched off in the console stay off from the first request on.
  const channelState = new ChannelState(store.admin.channels, systemClock);
  await channelState.load();
  // One process prunes: any other worker doing it too would only find nothing to delete.
  const pruner =
    options.workerId === undefined || options.workerId === 1
      ? startUsagePruner({
          retention: store.admin.retention,
          retainDays: config.usage.retainDays,
          clock: systemClock,
          logger,
        })
      : undefined;
  const upstream = createUpstreamClient({
    connectionsPerOrigin: config.server.upstreamConnections,
  });
  const inflight = createInflightTracker();
  const requestMetrics = loggedRequestMetrics(logger);
  const port = options.port ?? Number(env.PORT || 8787);
  const imageStore = createImageStore(config.images, {
    dataDir,
    // Without a configured public URL, images are served by this relay on this host.
    publicBaseUrl: config.server.publicBaseUrl ?? `http://localhost:${port}`,
  });
  // One process backs up: the single relay, or the cluster primary (not its workers).
  const backups =
    config.backup && config.store.type === 'sqlite' && !inWorker
      ? await startBackups(dbPath(dataDir), config.backup, logger)
      : undefined;
  const build = readBuildId();
  const app = createApp({
    config,
    store,
    logger,
    upstream,
    inflight,
    requestMetrics,
    imageStore,
    admin: store.admin,
    channelState,
    ...(options.workerId !== undefined && { workerId: options.workerId }),
    ...(build !== undefined && { build }),
  });

  // Set on SIGTERM: /healthz turns 503 so a load balancer stops sending (server.drainDelayMs).
  let draining = false;
  const fetch: typeof app.fetch = (request, ...rest) =>
    draining && new URL(request.url).pathname === '/healthz'
      ? Response.json({ status: 'draining' }, { status: 503 })
      : app.fetch(request, ...rest);
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch, port, hostname: options.host ?? env.HOST ?? '0.0.0.0' }, () =>
      resolve(s),
    );
  });
  // Longer than CloudFront's origin keep-alive, so CloudFront never reuses a socket we just closed (502).
  if ('keepAliveTimeout' in server) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  }
  const keyCount = (await store.keys.list()).length;
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  logger.info(
    {
      port: actualPort,
      channels: config.channels.map((c) => c.name),
      keys: keyCount,
      dataDir,
      ...(build !== undefined && { build }),
    },
    'llm-relay listening',
  );
  if (config.channels.length === 0) {
    logger.warn(
      'no channels configured: set OPENAI_API_KEY (or DEEPSEEK_API_KEY, …) or write relay.config.json',
    );
  }
  if (config.admin.keys.length === 0) {
    logger.info('admin console at /admin is locked: set ADMIN_KEY to use it');
  }
  if (keyCount === 0) {
    logger.warn('no client keys yet: create one with `npm run keys -- create --name <you>`');
  }

  let closing: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown') =>
    (closing ??= (async () => {
      draining = true;
      const delayMs = config.server.drainDelayMs;
      if (delayMs > 0) {
        logger.info({ reason, delayMs }, 'shutting down: failing /healthz, still serving');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
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
      // Every request that will end has ended: its metrics go out with the last batch.
      requestMetrics.stop();
      await closed;
      await upstream.close();
      await backups?.stop();
      await pruner?.stop();
      await store.close();
      storeEvents?.stop();
      logger.info('stopped');
    })());
  return { server, port: actualPort, shutdown };
}

/** One process, as before `server.workers` existed: it serves, and drains on SIGTERM/SIGINT. */
async function runSingle(config: RelayConfig): Promise<void> {
  const relay = await startRelay({ config });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      relay.shutdown(signal).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

async function main(): Promise<void> {
  const env = process.env;
  if (cluster.isWorker) {
    // The primary validated this input already; parsing it here applies defaults and env: secrets.
    return runWorker((input, workerId) =>
      startRelay({ config: parseRelayConfig(input.json, env, input.source), workerId }),
    );
  }
  try {
    const input = readRelayConfigInput(env);
    const config = parseRelayConfig(input.json, env, input.source);
    if (config.server.workers <= 1) return await runSingle(config);
    const secrets = secretsOf(config);
    const logger = createLogger({ level: env.LOG_LEVEL || 'info', secrets: () => secrets }).child({
      role: 'primary',
    });
    const dataDir = env.RELAY_DATA_DIR || './data';
    await prepareStore(config, dataDir);
    const backups =
      config.backup &&
      config.store.type === 'sqlite' &&
      (await startBackups(dbPath(dataDir), config.backup, logger));
    const code = await runPrimary({
      workers: config.server.workers,
      input,
      logger,
      // The workers' drain starts after their drain delay.
      shutdownGraceMs: config.server.drainDelayMs + config.server.shutdownGraceMs,
    });
    if (backups) await backups.stop();
    process.exit(code);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

const isMain = isMainModule(import.meta.filename);
if (isMain) await main();
