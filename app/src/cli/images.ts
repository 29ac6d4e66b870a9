import { SingleBar } from 'cli-progress';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { imagesConfigSchema } from '../images/config.ts';
import type { ImageStoreConfig } from '../images/config.ts';
import { createImageStore } from '../images/create-store.ts';
import { formatBytes, parseAge } from '../images/duration.ts';
import { pruneImages } from '../images/prune.ts';
import type { ImageEntry, ImageStore } from '../images/types.ts';

export const USAGE = `Usage: npm run images -- <command> [options]

Commands:
  list                     List stored images: last modified, size in bytes, key
  prune --older-than <age> Delete images last modified longer ago than <age>

Options:
  --older-than <age>  An age such as 30d, 12h, 2w (units s m h d w); filters list, required by prune
  --dry-run           prune: list what would be deleted, delete nothing
  --progress          prune: always show the progress bar (default: on a terminal, 1000+ images)
  -h, --help          Show this help

Reads the "images" and "server.publicBaseUrl" keys of the JSON config at RELAY_CONFIG
(default ./relay.config.json; no file means the local store) and RELAY_DATA_DIR (default ./data).
An s3 store uses the default AWS credential chain.

Exit codes: 0 done, 1 the store failed or some images could not be deleted, 2 bad usage or config.`;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const PROGRESS_THRESHOLD = 1000;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  now?: () => Date;
}

class UsageError extends Error {}

const relayFileSchema = z.looseObject({
  server: z.looseObject({ publicBaseUrl: z.string().optional() }).optional(),
  images: imagesConfigSchema,
});

/** Runs the images CLI and returns its exit code; never throws. */
export async function runImagesCli(argv: readonly string[], io: CliIo): Promise<number> {
  const err = (line: string): void => void io.stderr.write(`${line}\n`);
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'older-than': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        progress: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      io.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    const [command, ...extra] = positionals;
    if (command !== 'list' && command !== 'prune') {
      throw new UsageError(command ? `unknown command "${command}"` : 'missing command');
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const olderThan = parseOlderThan(values['older-than'], io.now?.() ?? new Date());
    if (command === 'prune' && !olderThan) {
      throw new UsageError('prune needs --older-than <age>, e.g. --older-than 30d');
    }
    if (command === 'list' && (values['dry-run'] || values.progress)) {
      throw new UsageError('--dry-run and --progress only apply to prune');
    }

    const store = await loadStore(io.env);
    err(`store: ${store.location}`);
    if (command === 'list') return await list(store, olderThan, io);
    return await prune(store, olderThan as Date, values['dry-run'], values.progress, io);
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      err(`error: ${(error as Error).message}`);
      err('Run with --help for usage.');
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      err(`error: ${error.message}`);
      return EXIT_USAGE;
    }
    err(`error: ${describe(error)}`);
    return EXIT_FAILED;
  }
}

class ConfigError extends Error {}

function parseOlderThan(value: string | undefined, now: Date): Date | undefined {
  if (value === undefined) return undefined;
  const ms = parseAge(value);
  if (ms === null) {
    throw new UsageError(`--older-than "${value}" is not an age like 30d, 12h or 2w`);
  }
  return new Date(now.getTime() - ms);
}

async function loadStore(env: NodeJS.ProcessEnv): Promise<ImageStore> {
  const path = resolve(env.RELAY_CONFIG || './relay.config.json');
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`cannot read ${path}: ${describe(error)}`);
    }
  }
  let images: ImageStoreConfig = { store: 'local' };
  let publicBaseUrl = '';
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${path} is not valid JSON: ${describe(error)}`);
    }
    const parsed = relayFileSchema.safeParse(json);
    if (!parsed.success) {
      throw new ConfigError(`invalid config in ${path}:\n${z.prettifyError(parsed.error)}`);
    }
    images = parsed.data.images;
    publicBaseUrl = parsed.data.server?.publicBaseUrl ?? '';
  }
  return createImageStore(images, {
    dataDir: resolve(env.RELAY_DATA_DIR || './data'),
    publicBaseUrl,
  });
}

const line = (entry: ImageEntry): string =>
  `${entry.lastModified.toISOString()}\t${entry.size}\t${entry.key}\n`;

async function list(store: ImageStore, olderThan: Date | undefined, io: CliIo): Promise<number> {
  let count = 0;
  let bytes = 0;
  for await (const entry of store.list(olderThan ? { olderThan } : {})) {
    io.stdout.write(line(entry));
    count += 1;
    bytes += entry.size;
  }
  io.stderr.write(`${count} image${count === 1 ? '' : 's'}, ${formatBytes(bytes)}\n`);
  return EXIT_OK;
}

async function prune(
  store: ImageStore,
  olderThan: Date,
  dryRun: boolean,
  forceProgress: boolean,
  io: CliIo,
): Promise<number> {
  let bar: SingleBar | undefined;
  const result = await pruneImages(store, {
    olderThan,
    dryRun,
    onProgress: (done, total) => {
      if (!bar && (forceProgress || (io.stderr.isTTY === true && total >= PROGRESS_THRESHOLD))) {
        bar = new SingleBar({
          stream: io.stderr,
          format: 'pruning [{bar}] {percentage}% | {value}/{total} images',
          noTTYOutput: true,
          notTTYSchedule: 1000,
          hideCursor: true,
        });
        bar.start(total, done);
      }
      bar?.update(done);
    },
  });
  bar?.stop();

  const count = result.matched.length;
  const summary = `${count} image${count === 1 ? '' : 's'} (${formatBytes(result.bytes)}) last modified before ${olderThan.toISOString()}`;
  if (dryRun) {
    for (const entry of result.matched) io.stdout.write(line(entry));
    io.stderr.write(`dry run: would delete ${summary}\n`);
    return EXIT_OK;
  }
  for (const failure of result.failed) {
    io.stderr.write(`failed to delete ${failure.key}: ${failure.message}\n`);
  }
  io.stderr.write(`deleted ${result.deleted} of ${summary}\n`);
  return result.failed.length > 0 ? EXIT_FAILED : EXIT_OK;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}

if (import.meta.main) {
  // `npm run images -- list | head` closes stdout early: that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  process.exitCode = await runImagesCli(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
