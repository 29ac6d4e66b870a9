import { fstatSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { BlockFileWriter } from './log-blocks.ts';

export type { Logger };

export type PlainLevel = 'debug' | 'info' | 'warn' | 'error';

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
  'headers["x-goog-api-key"]',
  '*.headers["x-goog-api-key"]',
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

/** How long a line may wait in a block before it is written (a SIGKILL loses at most this). */
const FILE_FLUSH_MS = 250;

/** One stdout destination per process, however many loggers write to it. */
let sharedStdout: pino.DestinationStream | undefined;

/**
 * stdout, written synchronously: a saturated relay slows down instead of queueing lines in
 * memory (asynchronous writes run on a pool thread that competes for the same core: the queue
 * grew by tens of MB under load), and a process that exits right after logging loses nothing.
 * - A regular file (production: systemd's StandardOutput=append:) gets blocks of at least 4 KiB
 *   (BlockFileWriter), flushed at least every 250 ms and on exit: under load one write per line
 *   was a tenth of the relay's CPU. A SIGKILL can lose the last 250 ms.
 * - A pipe, socket or terminal gets one write per line: cluster workers share it, and only
 *   writes of at most PIPE_BUF (4 KiB) bytes are atomic, so blocks of lines could tear.
 */
function stdoutDestination(): pino.DestinationStream {
  if (sharedStdout) return sharedStdout;
  const fd = process.stdout.fd || 1;
  let isFile = false;
  try {
    isFile = fstatSync(fd).isFile();
  } catch {
    // Not inspectable: treat it like a pipe.
  }
  if (!isFile) {
    // A non-blocking pipe that is full makes a synchronous write sleep 100 ms and retry; a
    // blocking one waits only as long as the reader needs.
    (
      process.stdout as { _handle?: { setBlocking?: (on: boolean) => void } }
    )._handle?.setBlocking?.(true);
  }
  if (isFile) {
    const blocks = new BlockFileWriter(fd, FILE_FLUSH_MS);
    // pino flushes no stream of ours at exit: the lines still gathered, and any logged later.
    process.once('exit', () => blocks.end());
    sharedStdout = blocks;
  } else {
    sharedStdout = pino.destination({ dest: fd, sync: true, minLength: 0 });
  }
  return sharedStdout;
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
    options.destination ?? stdoutDestination(),
  );
}

/** What pino keeps on every logger: its destination and its bindings, already serialised. */
interface PinoInternals {
  [key: symbol]: unknown;
}

/**
 * Writes a line of fields the caller built itself: plain JSON values (numbers, strings, flat
 * arrays and objects: no errors, no secrets, nothing circular), then `raw`, more fields already
 * serialised (`"a":1,"b":"x"`, no braces), for parts that are the same on every line.
 */
export type PlainLineWriter = (
  level: PlainLevel,
  fields: Record<string, unknown>,
  msg: string,
  raw?: string,
) => void;

/**
 * Writes lines exactly as the logger would (`{"level":…,"time":…,<bindings>,<fields>,"msg":…}`,
 * one line to the same destination, only at enabled levels), but serialised by one
 * `JSON.stringify`. pino builds a line field by field; for the access line (30 fields and an EMF
 * block) that took 5 % of the relay's CPU (4 % this way) and several KB of garbage per request.
 * Anything that can carry an error or a secret goes through the logger itself (its serializers
 * and redaction).
 *
 * The stream and bindings are pino internals, found through `pino.symbols`: checked once here,
 * and if a pino release ever keeps them elsewhere, every line goes through the logger's own
 * methods instead (slower, never lost).
 */
export function plainLineWriter(
  logger: Logger,
  options: {
    /**
     * Lines written whatever the logger's level, unless it is `silent` (metrics, which are not
     * diagnostics: a quieter log must not blank the dashboard).
     */
    readonly anyLevel?: boolean;
  } = {},
): PlainLineWriter {
  const enabled = (level: PlainLevel) =>
    options.anyLevel ? logger.level !== 'silent' : logger.isLevelEnabled(level);
  const internals = logger as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym] as Partial<pino.DestinationStream> | undefined;
  // The base fields ({"service":…}) and the child's bindings, as ',"service":"llm-relay"'.
  const bindings = internals[pino.symbols.chindingsSym];
  if (typeof stream?.write !== 'function' || typeof bindings !== 'string') {
    // anyLevel: a child of its own level, so the logger's level does not drop these lines.
    const target = options.anyLevel ? logger.child({}, { level: 'trace' }) : logger;
    return (level, fields, msg, raw) => {
      if (!enabled(level)) return;
      target[level](raw ? { ...fields, ...(JSON.parse(`{${raw}}`) as object) } : fields, msg);
    };
  }
  const write = stream.write.bind(stream);
  return (level, fields, msg, raw) => {
    if (!enabled(level)) return;
    const body = JSON.stringify(fields);
    const rest = (body.length > 2 ? `,${body.slice(1, -1)}` : '') + (raw ? `,${raw}` : '');
    write(
      `{"level":"${level}","time":${Date.now()}${bindings}${rest},"msg":${JSON.stringify(msg)}}\n`,
    );
  };
}
