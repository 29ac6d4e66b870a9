/**
 * `server.workers` > 1: one primary process that owns no requests, and N workers that each run
 * the whole relay on the same port (node:cluster shares the listening socket). Everything that
 * must happen once per start (stale holds, config keys) is done by the primary before it forks;
 * workers only serve. Quota and rate windows (RPM and TPM) are exact across workers because both
 * live in the store (the one SQLite file, or DynamoDB); key lookups are cached per worker for a
 * second or two (store/key-cache.ts); breakers, the model catalog cache and stream heartbeats stay per worker.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { RelayConfigInput } from './config.ts';
import type { Logger } from './logger.ts';

/** Worker → primary: ready for the config (a message sent before the worker listens is lost). */
interface ConfigRequest {
  readonly type: 'relay:config?';
}
/** Primary → worker: the config input the primary validated, so every worker runs the same one. */
interface ConfigReply {
  readonly type: 'relay:config';
  readonly input: RelayConfigInput;
}

const isMessage = <T extends { type: string }>(m: unknown, type: T['type']): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;

export interface RestartPolicy {
  /** Wait before the first restart; doubles with each crash still inside the window. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** More unexpected exits than this within `windowMs` is a crash loop: the primary gives up. */
  readonly maxCrashes: number;
  readonly windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 250,
  maxDelayMs: 5_000,
  maxCrashes: 5,
  windowMs: 60_000,
};

/** Time past the workers' own grace period for them to settle usage rows and close the store. */
const STOP_MARGIN_MS = 5_000;

export interface PrimaryOptions {
  readonly workers: number;
  readonly input: RelayConfigInput;
  readonly logger: Logger;
  /** The workers' drain time (server.shutdownGraceMs); the primary waits that plus a margin. */
  readonly shutdownGraceMs: number;
  readonly restart?: RestartPolicy;
}

/**
 * Forks the workers, restarts one that dies unexpectedly, and on SIGTERM/SIGINT passes the
 * signal on and waits for every worker to drain. Resolves with the exit code for the primary:
 * 0 after a clean stop, 1 after a crash loop, a forced kill or a worker that failed to stop.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  const policy = options.restart ?? DEFAULT_RESTART_POLICY;
  // Round-robin from the primary spreads connections evenly; leaving it to the kernel tends to
  // pile them onto one or two busy workers. Explicit, as the default differs by platform.
  cluster.schedulingPolicy = cluster.SCHED_RR;

  const live = new Set<Worker>();
  const restarts = new Set<NodeJS.Timeout>();
  let crashes: number[] = [];
  let stopping: string | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  let failed = false;
  let deadline: NodeJS.Timeout | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const fork = (): void => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('message', (m: unknown) => {
      if (isMessage<ConfigRequest>(m, 'relay:config?')) {
        worker.send({ type: 'relay:config', input: options.input } satisfies ConfigReply);
      }
    });
    worker.once('listening', () =>
      logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker listening'),
    );
    worker.once('exit', (code, signal) => onExit(worker, code, signal));
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    live.delete(worker);
    const fields = { worker: worker.id, pid: worker.process.pid, code, signal };
    if (stopping !== undefined) {
      // Killed by the very signal it was sent: it was still loading and had nothing to drain.
      if (code !== 0 && !(code === null && signal === stopSignal)) failed = true;
      logger.info(fields, 'worker stopped');
      if (live.size === 0) done();
      return;
    }
    const now = Date.now();
    crashes = [...crashes.filter((t) => now - t < policy.windowMs), now];
    if (crashes.length > policy.maxCrashes) {
      logger.error(
        { ...fields, crashes: crashes.length, windowMs: policy.windowMs },
        'workers keep crashing: giving up',
      );
      failed = true;
      stop('crash loop');
      return;
    }
    const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (crashes.length - 1));
    logger.error({ ...fields, restartInMs: delayMs }, 'worker died unexpectedly; restarting it');
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (stopping === undefined) fork();
    }, delayMs);
    restarts.add(timer);
  };

  const done = (): void => {
    clearTimeout(deadline);
    for (const t of restarts) clearTimeout(t);
    logger.info({ reason: stopping, failed }, 'all workers stopped');
    // The caller exits right after: the last lines must be out of pino's buffer first.
    logger.flush(() => finish(failed ? 1 : 0));
  };

  const kill = (why: string): void => {
    logger.warn({ reason: why, remaining: live.size }, 'killing the remaining workers');
    failed = true;
    for (const w of live) w.process.kill('SIGKILL');
  };

  const stop = (reason: string, signal: NodeJS.Signals = 'SIGTERM'): void => {
    if (stopping !== undefined) return;
    stopping = reason;
    stopSignal = signal;
    for (const t of restarts) clearTimeout(t);
    restarts.clear();
    logger.info({ reason, workers: live.size }, 'stopping workers: they drain in-flight requests');
    if (live.size === 0) return done();
    // Each worker runs its own graceful shutdown on this signal (the one systemd or a terminal sent).
    for (const w of live) w.process.kill(signal);
    deadline = setTimeout(
      () => kill('workers did not stop in time'),
      options.shutdownGraceMs + STOP_MARGIN_MS,
    );
    deadline.unref();
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping === undefined) stop(signal, signal);
      else kill(`second ${signal}`);
    });
  }

  logger.info({ workers: options.workers, pid: process.pid }, 'cluster primary forking workers');
  for (let i = 0; i < options.workers; i++) fork();
  return finished;
}

export interface WorkerRelay {
  shutdown(reason?: string): Promise<void>;
}

/**
 * The worker side: asks the primary for the config, starts the relay with it, and drains on
 * SIGTERM/SIGINT. The same signal can come twice (systemd signals the whole control group and
 * the primary forwards it; a terminal's Ctrl-C reaches every process too), so the handlers stay
 * and shutdown runs once.
 */
export async function runWorker(
  start: (input: RelayConfigInput, workerId: number) => Promise<WorkerRelay>,
): Promise<void> {
  const workerId = cluster.worker?.id ?? 0;
  const running: { relay?: WorkerRelay } = {};
  const stop = (signal: NodeJS.Signals): void => {
    // Still starting: nothing in flight, nothing to drain.
    if (!running.relay) return process.exit(0);
    running.relay.shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const input = await new Promise<RelayConfigInput>((resolve) => {
    const onMessage = (m: unknown) => {
      if (!isMessage<ConfigReply>(m, 'relay:config')) return;
      process.off('message', onMessage);
      resolve(m.input);
    };
    process.on('message', onMessage);
    process.send!({ type: 'relay:config?' } satisfies ConfigRequest);
  });
  running.relay = await start(input, workerId);
}
