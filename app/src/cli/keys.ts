import { parseArgs } from 'node:util';
import { createStore } from '../store/create-store.ts';
import { storeConfigSchema } from '../store/store-config.ts';
import type { StoreConfig } from '../store/store-config.ts';
import type { KeyRecord, Store } from '../store/types.ts';
import { StoreError, microsToUsd } from '../store/types.ts';
import { ConfigError, readRelayConfigInput } from '../config.ts';
import { isMainModule } from '../main-module.ts';
import { keyFacts } from '../admin/key-facts.ts';
import { timeOrderedId } from '../middleware/request-id.ts';
import { runTransferCommand } from './keys-transfer.ts';
import { parseExpiry, parseUsd } from './parse.ts';

const HELP = `Manage client keys of the relay (the store in RELAY_DATA_DIR, default ./data).

Usage: npm run keys -- <command> [options]

Commands:
  create  --name N [--quota USD] [--models a,b*] [--expires YYYY-MM-DD] [--rpm N] [--tpm N]
          Creates a key and prints it once. Without --quota the key is unlimited;
          --rpm limits its requests per minute, --tpm its tokens (prompt + completion)
          per minute.
  update  --name N [--rpm N|none] [--tpm N|none]
          Changes a key's limits ("none" removes one); nothing else.
  list    [--json]           Lists keys with quota, spend, status and the quota held by
          requests in flight (never the keys).
  usage   [--name N] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--json]
          Requests, tokens and spend per key and model (--until is exclusive);
          cache reads, cache writes and reasoning are parts of prompt and completion.
  topup   --name N --amount USD
  disable --name N
  enable  --name N
          Keys from the config file (RELAY_CONFIG) can be disabled and enabled (it sticks
          across restarts) but not topped up, and one the file disables stays disabled.
  export  [--out FILE]       Keys (secret hashes, never secrets), balances, daily rollups and
          usage rows of the configured store, as JSON lines (stdout without --out).
  import  --in FILE [--dry-run]
          Reads an export into the configured store (e.g. SQLite to DynamoDB): keys by
          name set to the exported state, rows and rollups once; run again, it changes
          nothing. --dry-run says what it would change.

Exit codes: 0 ok, 1 the command failed (e.g. no such key), 2 bad usage.`;

const fmtUsd = (micros: number | null) =>
  micros === null ? 'unlimited' : `$${microsToUsd(micros).toFixed(4)}`;

function describe(k: KeyRecord): Record<string, unknown> {
  return {
    name: k.name,
    hint: k.hint,
    quota: fmtUsd(k.quotaMicros),
    used: fmtUsd(k.usedMicros),
    remaining: k.quotaMicros === null ? 'unlimited' : fmtUsd(k.quotaMicros - k.usedMicros),
    models: k.models.join(','),
    expires: k.expiresAt === null ? 'never' : new Date(k.expiresAt).toISOString(),
    rpm: k.rpm ?? 'unlimited',
    tpm: k.tpm ?? 'unlimited',
    enabled: k.enabled,
    // Last, so that the tab output's earlier columns keep their places for scripts.
    held: fmtUsd(k.reservedMicros),
  };
}

/**
 * Said on stderr beside `list` on a SQLite store, where `held` cannot be the whole truth: the
 * only relay on the file keeps its quota holds in its own memory (SqliteLedger).
 */
const HELD_NOTE =
  'held: quota held by requests in flight. A relay running alone on this SQLite file keeps ' +
  'its holds in its memory; they show here only once it hands them over as rows (when a ' +
  'second relay starts) or as spend once settled.';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** What an audit row keeps of a key: its facts without the moving hold. */
const auditFacts = (k: KeyRecord) => {
  const { reservedUsd: _reserved, ...facts } = keyFacts(k);
  return facts;
};

/**
 * An audit row for a change made here, as the admin API writes one: the actor is "cli" (the
 * CLI runs on the host, so whoever runs it has the data folder anyway), and the row's id
 * stands in for the request id.
 */
async function audit(
  store: Store,
  action: string,
  target: string,
  before: KeyRecord | null,
  after: Record<string, unknown> | null,
): Promise<void> {
  const at = Date.now();
  await store.admin.audit.append({
    at,
    actor: 'cli',
    action,
    target,
    before: before && auditFacts(before),
    after,
    requestId: `cli_${timeOrderedId(at)}`,
    ip: null,
  });
}

/**
 * The config file's keys (RELAY_CONFIG, as the relay reads it) and whether the file disables
 * each. Read as plain JSON, not validated: the CLI may run without the relay's secrets.
 */
function configKeys(env: Readonly<Record<string, string | undefined>>): Map<string, boolean> {
  const { json } = readRelayConfigInput(env);
  const keys = (json as { keys?: unknown } | null)?.keys;
  const out = new Map<string, boolean>();
  if (Array.isArray(keys))
    for (const k of keys as { name?: unknown; enabled?: unknown }[])
      if (typeof k?.name === 'string') out.set(k.name, k.enabled !== false);
  return out;
}

/**
 * The relay sets a config-file key's quota again at every start, so a top-up here would quietly
 * vanish; and it keeps a key the file disables off. Disabling and enabling otherwise stick.
 */
function assertCliMayChange(fromConfig: Map<string, boolean>, command: string, name: string): void {
  const enabledInFile = fromConfig.get(name);
  if (enabledInFile === undefined) return;
  if (command === 'topup' || command === 'update')
    throw new StoreError(
      `key "${name}" comes from the config file, which sets its ${command === 'topup' ? 'quota' : 'limits'} again at every start: change it there (key_managed_by_config)`,
    );
  if (command === 'enable' && !enabledInFile)
    throw new StoreError(
      `key "${name}" is disabled in the config file ("enabled": false): enable it there (key_disabled_in_config)`,
    );
}

export async function runKeysCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        quota: { type: 'string' },
        models: { type: 'string' },
        expires: { type: 'string' },
        rpm: { type: 'string' },
        tpm: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        amount: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        in: { type: 'string' },
        'dry-run': { type: 'boolean' },
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
    (command || values.help ? io.out : io.err)(HELP);
    return values.help ? 0 : 2;
  }
  if (command === 'export' || command === 'import')
    return runTransferCommand(
      command,
      {
        ...(values.out !== undefined && { out: values.out }),
        ...(values.in !== undefined && { in: values.in }),
        dryRun: values['dry-run'] ?? false,
      },
      env,
      io,
    );
  const needName = () => {
    if (!values.name) throw new UsageError(`${command} needs --name`);
    return values.name;
  };

  let store: Store | undefined;
  try {
    if (!['create', 'update', 'list', 'topup', 'disable', 'enable', 'usage'].includes(command)) {
      throw new UsageError(`unknown command "${command}"`);
    }
    const name = command === 'list' || command === 'usage' ? values.name : needName();
    const quota = values.quota === undefined ? null : parseUsdOrUsage(values.quota, '--quota');
    const expiresAt = values.expires === undefined ? null : parseExpiryOrUsage(values.expires);
    const amount = command === 'topup' ? parseUsdOrUsage(values.amount ?? '', '--amount') : 0;
    const rpm = values.rpm === undefined ? undefined : parseLimit(values.rpm, '--rpm', command);
    const tpm = values.tpm === undefined ? undefined : parseLimit(values.tpm, '--tpm', command);
    if (['topup', 'enable', 'update'].includes(command))
      assertCliMayChange(configKeys(env), command, name!);
    const config = storeConfig(env);
    const sqlite = config.type === 'sqlite';
    store = await createStore({ store: config }, { dataDir: env.RELAY_DATA_DIR || './data' });
    switch (command) {
      case 'create': {
        const models = values.models
          ? values.models
              .split(',')
              .map((m) => m.trim())
              .filter(Boolean)
          : ['*'];
        const { record, secret } = await store.keys.create({
          name: name!,
          quotaUsd: quota,
          models,
          expiresAt,
          rpm: rpm ?? null,
          tpm: tpm ?? null,
        });
        await audit(store, 'key.create', record.name, null, auditFacts(record));
        io.out(
          `Created key "${record.name}" (quota ${fmtUsd(record.quotaMicros)}, models ${models.join(',')}).`,
        );
        io.out('Store it now: it is shown only this once.');
        io.out(secret);
        return 0;
      }
      case 'list': {
        const keys = (await store.keys.list()).map(describe);
        if (sqlite && keys.length > 0) io.err(HELD_NOTE);
        if (values.json) io.out(JSON.stringify(keys, null, 2));
        else if (keys.length === 0)
          io.out('No keys yet. Create one: npm run keys -- create --name <name>');
        else for (const k of keys) io.out(Object.values(k).join('\t'));
        return 0;
      }
      case 'usage': {
        const fromMs = values.since ? parseExpiryOrUsage(values.since) : 0;
        const toMs = values.until ? parseExpiryOrUsage(values.until) : Number.MAX_SAFE_INTEGER;
        const rows = await store.usage.summary({ ...(name && { keyName: name }), fromMs, toMs });
        if (values.json) {
          io.out(
            JSON.stringify(
              rows.map((r) => ({ ...r, costUsd: microsToUsd(r.costMicros) })),
              null,
              2,
            ),
          );
          return 0;
        }
        if (rows.length === 0) {
          io.out('No usage in that period.');
          return 0;
        }
        io.out(
          [
            'key',
            'model',
            'requests',
            'errors',
            'prompt',
            'cache read',
            'cache write',
            'completion',
            'reasoning',
            'cost',
          ].join('\t'),
        );
        for (const r of rows) {
          io.out(
            [
              r.keyName ?? '-',
              r.model ?? '-',
              r.requests,
              r.errors,
              r.promptTokens,
              r.cacheReadTokens,
              r.cacheWriteTokens,
              r.completionTokens,
              r.reasoningTokens,
              fmtUsd(r.costMicros),
            ].join('\t'),
          );
        }
        return 0;
      }
      case 'topup': {
        const before = await store.keys.get(name!);
        const k = await store.keys.topUp(name!, amount);
        await audit(store, 'key.topup', k.name, before, { ...auditFacts(k), amountUsd: amount });
        io.out(
          `Topped up "${k.name}" by $${amount}: quota ${fmtUsd(k.quotaMicros)}, used ${fmtUsd(k.usedMicros)}.`,
        );
        return 0;
      }
      case 'update': {
        const other = (['quota', 'models', 'expires', 'amount'] as const).find(
          (flag) => values[flag] !== undefined,
        );
        if (other)
          throw new UsageError(
            `update changes only --rpm and --tpm, not --${other} (a quota grows with topup; models and expiry change in the admin console)`,
          );
        if (rpm === undefined && tpm === undefined)
          throw new UsageError('update needs --rpm or --tpm');
        const before = await store.keys.get(name!);
        const k = await store.keys.update(name!, {
          ...(rpm !== undefined && { rpm }),
          ...(tpm !== undefined && { tpm }),
        });
        await audit(store, 'key.update', k.name, before, auditFacts(k));
        io.out(
          `Key "${k.name}": ${k.rpm ?? 'unlimited'} requests and ${k.tpm ?? 'unlimited'} tokens per minute.`,
        );
        return 0;
      }
      default: {
        const before = await store.keys.get(name!);
        const k = await store.keys.setEnabled(name!, command === 'enable');
        await audit(store, 'key.update', k.name, before, auditFacts(k));
        io.out(`Key "${k.name}" is now ${k.enabled ? 'enabled' : 'disabled'}.`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${HELP}`);
      return 2;
    }
    if (err instanceof StoreError || err instanceof ConfigError) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await store?.close();
  }
}

class UsageError extends Error {}

function parseUsdOrUsage(value: string, flag: string): number {
  try {
    return parseUsd(value, flag);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A per-minute limit; `none` (update only) removes it. */
function parseLimit(value: string, flag: string, command: string): number | null {
  if (command === 'update' && value === 'none') return null;
  if (!/^[1-9]\d*$/.test(value))
    throw new UsageError(`${flag} must be a positive whole number, got "${value}"`);
  return Number(value);
}

/**
 * The store the relay's config names (its `store` section, read as plain JSON like the keys:
 * the CLI may run without the relay's secrets); SQLite in RELAY_DATA_DIR by default.
 */
function storeConfig(env: Readonly<Record<string, string | undefined>>): StoreConfig {
  const { json } = readRelayConfigInput(env);
  const section = storeConfigSchema.safeParse((json as { store?: unknown } | null)?.store);
  if (!section.success)
    throw new ConfigError(`store: ${section.error.issues.map((i) => i.message).join('; ')}`);
  return section.data;
}

function parseExpiryOrUsage(value: string): number {
  try {
    return parseExpiry(value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const isMain = isMainModule(import.meta.filename);
if (isMain) {
  process.exitCode = await runKeysCli(process.argv.slice(2), process.env, {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  });
}
