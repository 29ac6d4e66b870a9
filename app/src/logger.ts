import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * Paths that could carry a secret if someone ever logs a request or config object whole.
 * The per-request line never includes headers or bodies in the first place.
 */
const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  'headers["x-origin-secret"]',
  'apiKey',
  '*.apiKey',
  'key',
  'secret',
  'originSecret',
  '*.originSecret',
];

export interface LoggerOptions {
  readonly level?: string;
  readonly destination?: pino.DestinationStream;
  /**
   * Secret values (provider keys, origin secret) to blank out of logged errors: an error's
   * message or stack can quote a value that no field path would catch. Read at log time, so
   * the list can be filled once the config is loaded.
   */
  readonly secrets?: () => readonly string[];
}

/**
 * stdout, written in blocks of at least 4 KiB (and at least every 250 ms) instead of one write
 * per line: under load the per-line write was a tenth of the relay's CPU. Synchronous, so a
 * saturated relay slows down instead of queueing log lines in memory (asynchronous writes run on
 * a pool thread that competes for the same core: the queue grew by tens of MB under load).
 * Lines still buffered are written on exit, crashes included; only a SIGKILL can lose the last few.
 */
function bufferedStdout(): pino.DestinationStream {
  const dest = pino.destination({ dest: process.stdout.fd || 1, minLength: 4096, sync: true });
  setInterval(() => {
    try {
      dest.flushSync();
    } catch {
      // Closed at exit, which wrote what was left.
    }
  }, 250).unref();
  // pino registers its exit flush only for asynchronous destinations.
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // Nothing left to write.
    }
  });
  return dest;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = (text: unknown) => {
    if (typeof text !== 'string') return text;
    let out = text;
    for (const secret of options.secrets?.() ?? [])
      if (secret.length >= 8) out = out.split(secret).join('[redacted]');
    return out;
  };
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'llm-relay' },
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: {
        err: (err: Error) => {
          const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
          return { ...out, message: scrub(out.message), stack: scrub(out.stack) };
        },
      },
    },
    options.destination ?? bufferedStdout(),
  );
}
