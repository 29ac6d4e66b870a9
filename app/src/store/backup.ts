import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { backup as sqliteBackup, DatabaseSync } from 'node:sqlite';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { GetObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3ClientConfigFor } from '../images/s3-store.ts';
import type { Logger } from '../logger.ts';
import { BACKUP_FAILED_MESSAGE } from './backup-messages.ts';
import type { BackupConfig } from './backup-config.ts';

/** Where a backup goes: the config section, with or without its schedule. */
export type BackupTarget = Pick<
  BackupConfig,
  'bucket' | 'region' | 'prefix' | 'endpoint' | 'forcePathStyle'
>;

export interface StoredBackup {
  readonly key: string;
  readonly bytes: number;
  readonly lastModified: Date | undefined;
}

export interface RestoreSummary {
  readonly key: string;
  readonly keys: number;
  readonly usageRows: number;
  /** Where the database that was replaced now lives (undefined when there was none). */
  readonly previous: string | undefined;
}

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

// One step copies the whole database: a step is a read transaction, which in WAL mode never
// blocks the relay's writes, while smaller steps would restart whenever the relay wrote.
const ALL_PAGES = 2 ** 31 - 1;
const BACKUP_SUFFIX = '.db.gz';

export function s3ClientFor(target: BackupTarget, extra: S3ClientConfig = {}): S3Client {
  // Credentials come from the default AWS chain (env, profile, EC2 instance role).
  return new S3Client({ ...s3ClientConfigFor({ store: 's3', ...target }), ...extra });
}

/** `<prefix>yyyy/mm/dd/relay-<ISO time>.db.gz`: keys sort by time, so the newest lists last. */
export function backupKey(prefix: string, at: Date): string {
  const iso = at.toISOString();
  const day = iso.slice(0, 10).replaceAll('-', '/');
  return `${prefix}${day}/relay-${iso.replaceAll(':', '-')}${BACKUP_SUFFIX}`;
}

/**
 * Copies the live database with SQLite's online backup API (consistent, WAL contents included,
 * while the relay keeps serving), checks the copy, and uploads it gzipped under the prefix.
 */
export async function backupToS3(o: {
  readonly dbPath: string;
  readonly target: BackupTarget;
  readonly client: S3Client;
  readonly now?: () => Date;
}): Promise<StoredBackup> {
  if (!existsSync(o.dbPath)) throw new BackupError(`no database at ${o.dbPath}`);
  const at = (o.now ?? (() => new Date()))();
  const key = backupKey(o.target.prefix, at);
  // Next to the database: the data volume has room for a copy, /tmp may not.
  const copy = join(dirname(o.dbPath), `.backup-${process.pid}-${at.getTime()}.db`);
  try {
    const source = new DatabaseSync(o.dbPath, { timeout: 5000 });
    try {
      await sqliteBackup(source, copy, { rate: ALL_PAGES });
    } finally {
      source.close();
    }
    checkDatabase(copy);
    const upload = new Upload({
      client: o.client,
      params: {
        Bucket: o.target.bucket,
        Key: key,
        Body: createReadStream(copy).pipe(createGzip()),
        ContentType: 'application/gzip',
      },
    });
    await upload.done();
    return { key, bytes: (await stat(copy)).size, lastModified: at };
  } finally {
    await rm(copy, { force: true });
  }
}

/** Every backup under the prefix, oldest first. */
export async function listBackups(target: BackupTarget, client: S3Client): Promise<StoredBackup[]> {
  const found: StoredBackup[] = [];
  const pages = paginateListObjectsV2({ client }, { Bucket: target.bucket, Prefix: target.prefix });
  for await (const page of pages) {
    for (const o of page.Contents ?? []) {
      if (!o.Key?.endsWith(BACKUP_SUFFIX)) continue;
      found.push({ key: o.Key, bytes: o.Size ?? 0, lastModified: o.LastModified });
    }
  }
  return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Replaces the database at `dbPath` with a backup (`latest`, or a key from listBackups). The
 * relay must be stopped. The backup is downloaded and checked before anything is touched; the
 * database it replaces is kept beside it as `relay.db.before-restore-<time>` (with its WAL).
 */
export async function restoreFromS3(o: {
  readonly dbPath: string;
  readonly target: BackupTarget;
  readonly client: S3Client;
  readonly key: string | 'latest';
  readonly now?: () => Date;
}): Promise<RestoreSummary> {
  const key = o.key === 'latest' ? (await listBackups(o.target, o.client)).at(-1)?.key : o.key;
  if (!key) throw new BackupError(`no backups under s3://${o.target.bucket}/${o.target.prefix}`);
  if (!key.startsWith(o.target.prefix)) {
    throw new BackupError(`${key} is not under the backup prefix ${o.target.prefix}`);
  }
  const stamp = (o.now ?? (() => new Date()))().toISOString().replaceAll(':', '-');
  const incoming = `${o.dbPath}.restore-${stamp}`;
  try {
    const object = await o.client.send(new GetObjectCommand({ Bucket: o.target.bucket, Key: key }));
    if (!object.Body) throw new BackupError(`s3://${o.target.bucket}/${key} has no body`);
    await pipeline(object.Body as Readable, createGunzip(), createWriteStream(incoming));
    const counts = checkDatabase(incoming);
    let previous: string | undefined;
    if (existsSync(o.dbPath)) {
      previous = `${o.dbPath}.before-restore-${stamp}`;
      // The WAL and shared-memory files belong to the database they sit beside: move them along.
      for (const suffix of ['-wal', '-shm', '']) {
        if (existsSync(o.dbPath + suffix)) await rename(o.dbPath + suffix, previous + suffix);
      }
    }
    await rename(incoming, o.dbPath);
    return { key, ...counts, previous };
  } finally {
    await rm(incoming, { force: true });
  }
}

/** Refuses a file that is not a sound relay database; returns what it holds. */
function checkDatabase(path: string): { keys: number; usageRows: number } {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const check = db.prepare('PRAGMA quick_check').get() as { quick_check?: string } | undefined;
    if (check?.quick_check !== 'ok') throw new BackupError(`${path}: integrity check failed`);
    const count = (table: string) =>
      Number((db!.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
    return { keys: count('keys'), usageRows: count('usage') };
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${path} is not a relay database: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
}

export interface BackupSchedule {
  /** Stops the timer and waits for a backup in progress. */
  stop(): Promise<void>;
}

/**
 * Backs up at every multiple of the interval on the wall clock (at :00 for hourly), so a relay
 * restarted more often than the interval still backs up on time. A failed backup is logged and
 * retried at the next slot; backups never overlap.
 */
export function scheduleBackups(o: {
  readonly dbPath: string;
  readonly config: BackupConfig;
  readonly logger: Logger;
  readonly client?: S3Client;
}): BackupSchedule {
  const client = o.client ?? s3ClientFor(o.config);
  const intervalMs = o.config.intervalMinutes * 60_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const wait = intervalMs - (Date.now() % intervalMs);
    timer = setTimeout(() => {
      running = runOnce().finally(arm);
    }, wait);
    // A pending backup never keeps a process alive that is otherwise done.
    timer.unref();
  };
  const runOnce = async () => {
    const started = Date.now();
    try {
      const done = await backupToS3({ dbPath: o.dbPath, target: o.config, client });
      o.logger.info(
        { backup: { key: done.key, bytes: done.bytes, ms: Date.now() - started } },
        'database backed up',
      );
    } catch (err) {
      o.logger.error(
        { backup: { bucket: o.config.bucket, prefix: o.config.prefix }, err },
        BACKUP_FAILED_MESSAGE,
      );
    }
  };
  arm();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (!o.client) client.destroy();
    },
  };
}
