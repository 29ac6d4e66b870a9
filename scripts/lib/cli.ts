import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import { REGION_HELP } from './aws.ts';

/** Exit codes every ops script shares, so shell scripts and CI can branch on them. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  config: 3,
  notFound: 4,
  checkFailed: 5,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  AWS or unexpected error (the message names the operation)
  2  bad usage (unknown option, missing argument, invalid value)
  3  missing or rejected AWS credentials, or no region
  4  a resource does not exist (log group, hosted zone, parameter, instance)
  5  a check failed or differences were found (dns check/diff, failed remote command)`;

/** An error whose message is meant for the operator as is, with the exit code to use. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** Where progress bars draw; they draw only when it is a TTY. */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Ends --follow and other waits (Ctrl-C in a terminal). */
  signal?: AbortSignal;
  readStdin?(): Promise<string>;
  /** Fixed credentials instead of the SDK's default chain (tests use fake static ones). */
  credentials?: StaticCredentials;
  /** How long to wait between polls of asynchronous AWS operations. */
  pollIntervalMs?: number;
  now?(): number;
}

export function processIo(): Io {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return {
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    progressStream: process.stderr,
    signal: controller.signal,
    readStdin: async () => {
      // Typing a secret into a terminal would echo it; insist on a pipe.
      if (process.stdin.isTTY) {
        throw new CliError(
          'pipe the value in (printf %s "$KEY" | ...) or use --from-env',
          EXIT.usage,
        );
      }
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]);

/** Turns SDK failures into one line an operator can act on; never echoes request parameters. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  const err = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err?.name ?? 'Error';
  const message = err?.message ?? String(error);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return {
      message:
        'No AWS credentials found. Set AWS_PROFILE (after `aws sso login` if it is an SSO profile) ' +
        'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
      exitCode: EXIT.config,
    };
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return { message: `AWS rejected the credentials (${name}): ${message}`, exitCode: EXIT.config };
  }
  if (/Region is missing/i.test(message)) {
    return {
      message: 'No AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile.',
      exitCode: EXIT.config,
    };
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return { message: `Access denied: ${message}`, exitCode: EXIT.failed };
  }
  return { message: `${name}: ${message}`, exitCode: EXIT.failed };
}

/** Runs a script's main, printing errors as one clean line and returning the exit code. */
export async function runScript(main: () => Promise<number>, io: Io): Promise<number> {
  try {
    return await main();
  } catch (error) {
    const { message, exitCode } = describeError(error);
    io.stderr(`error: ${message}`);
    return exitCode;
  }
}

/** Options every ops script takes; a script's own option table is merged over them. */
export const COMMON_OPTIONS = {
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

type WithCommon<O extends ParseArgsOptionsConfig> = O & typeof COMMON_OPTIONS;

/** What parseArgs gives back for a script's options (strict, positionals allowed). */
export type ParsedCommandLine<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: WithCommon<O>; allowPositionals: true; strict: true }>
>;

export interface ScriptSpec<O extends ParseArgsOptionsConfig> {
  /** --help text up to the script's last option; the AWS settings and exit codes are appended. */
  usage: string;
  options: O;
  run(parsed: ParsedCommandLine<O>, io: Io): Promise<number>;
}

/**
 * The part every ops script shares: strict option parsing (a mistake is exit 2 before any AWS
 * call), --help with the common AWS and exit-code sections, and errors mapped to exit codes.
 */
export function defineScript<const O extends ParseArgsOptionsConfig>(
  spec: ScriptSpec<O>,
): (argv: string[], io: Io) => Promise<number> {
  const options = { ...spec.options, ...COMMON_OPTIONS } as WithCommon<O>;
  const usage = `${spec.usage}\n\n${REGION_HELP}\n\n${EXIT_CODES_HELP}`;
  return (argv, io) =>
    runScript(async () => {
      let parsed: ParsedCommandLine<O>;
      try {
        parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
      } catch (error) {
        throw usageError(error);
      }
      // TypeScript cannot narrow parseArgs' mapped type while O is still generic.
      if ((parsed.values as { help?: boolean }).help) {
        io.stdout(usage);
        return EXIT.ok;
      }
      return spec.run(parsed, io);
    }, io);
}

/** Wraps node:util parseArgs failures (unknown option, missing value) as usage errors. */
export function usageError(error: unknown): CliError {
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`${message} (see --help)`, EXIT.usage);
}

export function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new CliError(`missing ${what}`, EXIT.usage);
  return value;
}

export function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new CliError(
      `${flag} must be a positive whole number, got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  }
  return n;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
