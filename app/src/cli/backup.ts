import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError, readRelayConfigInput } from '../config.ts';
import { backupConfigSchema } from '../store/backup-config.ts';
import type { BackupConfig } from '../store/backup-config.ts';
import { backupToS3, listBackups, restoreFromS3, s3ClientFor } from '../store/backup.ts';
import { isMainModule } from '../main-module.ts';
import type { CliIo } from './keys.ts';

const HELP = `Back up and restore the relay's database (RELAY_DATA_DIR/relay.db, default ./data) with
the S3 bucket named in the config file's "backup" section (RELAY_CONFIG).

Usage: npm run backup -- <command> [options]

Commands:
  now                     Backs up now (the relay may be running) and prints the key.
  list [--json]           Lists the backups, oldest first.
  restore --latest | --key K
                          Replaces the database with a backup. Stop the relay first (on the AWS
                          host, "sudo llm-relay-backup restore …" stops and starts it for you).
                          The replaced file is kept as relay.db.before-restore-<time>.

Exit codes: 0 ok, 1 the command failed, 2 bad usage or no "backup" section.`;

class UsageError extends Error {}

/** The config file's backup section alone: no provider secrets are needed to back up. */
/** Backups copy the SQLite file; a relay on DynamoDB has none. */
class NotForThisStore extends Error {}

function backupSection(env: Readonly<Record<string, string | undefined>>): BackupConfig {
  const { json, source } = readRelayConfigInput(env);
  const store = (json as { store?: { type?: unknown } } | null)?.store;
  if (store?.type === 'dynamodb')
    throw new NotForThisStore(
      `${source} keeps the relay's data in DynamoDB, not in a SQLite file: its tables have point-in-time recovery instead (see docs/fleet.md)`,
    );
  const raw = (json as { backup?: unknown } | null)?.backup;
  if (raw === undefined) throw new UsageError(`${source} has no "backup" section`);
  const parsed = backupConfigSchema.safeParse(raw);
  if (!parsed.success || !parsed.data) {
    const issues = parsed.error?.issues.map((i) => `backup.${i.path.join('.')}: ${i.message}`);
    throw new UsageError(`Invalid backup section in ${source}: ${issues?.join('; ')}`);
  }
  return parsed.data;
}

export async function runBackupCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
  clientConfig: S3ClientConfig = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        latest: { type: 'boolean' },
        key: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    (values.help ? io.out : io.err)(HELP);
    return values.help ? 0 : 2;
  }
  const dbPath = join(env.RELAY_DATA_DIR || './data', 'relay.db');
  try {
    if (!['now', 'list', 'restore'].includes(command)) {
      throw new UsageError(`unknown command "${command}"`);
    }
    if (command === 'restore' && Boolean(values.latest) === Boolean(values.key)) {
      throw new UsageError('restore needs exactly one of --latest and --key');
    }
    const target = backupSection(env);
    const client = s3ClientFor(target, clientConfig);
    try {
      if (command === 'now') {
        const done = await backupToS3({ dbPath, target, client });
        io.out(`Backed up ${done.bytes} bytes to s3://${target.bucket}/${done.key}`);
      } else if (command === 'list') {
        const backups = await listBackups(target, client);
        if (values.json) io.out(JSON.stringify(backups, null, 2));
        else if (backups.length === 0)
          io.out(`No backups under s3://${target.bucket}/${target.prefix}`);
        else for (const b of backups) io.out(`${b.key}\t${b.bytes}`);
      } else {
        const done = await restoreFromS3({
          dbPath,
          target,
          client,
          key: values.latest ? 'latest' : values.key!,
        });
        io.out(`Restored ${done.key}: ${done.keys} keys, ${done.usageRows} usage rows.`);
        if (done.previous) io.out(`The replaced database is kept at ${done.previous}`);
      }
    } finally {
      client.destroy();
    }
    return 0;
  } catch (err) {
    if (err instanceof NotForThisStore) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`${err.message}\n\n${HELP}`);
      return 2;
    }
    // S3 and file errors name the bucket or path, never a credential.
    io.err(`error: ${(err as Error).message}`);
    return 1;
  }
}

const isMain = isMainModule(import.meta.filename);
if (isMain) {
  process.exitCode = await runBackupCli(process.argv.slice(2), process.env, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  });
}
