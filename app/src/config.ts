import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { imagesConfigSchema } from './images/config.ts';
import type { ImagesConfig } from './images/config.ts';
import { backupConfigSchema } from './store/backup-config.ts';
import { storeConfigSchema } from './store/store-config.ts';
import type { StoreConfig } from './store/store-config.ts';
import type { BackupConfig } from './store/backup-config.ts';
import { channelTypes, defaultChannelType, wellKnownProviders } from './providers/registry.ts';
import { DEFAULT_BREAKER_OPTIONS, type BreakerOptions } from './routing/breaker.ts';
import { hashKey, keyHint } from './store/secrets.ts';

/** `"env:NAME"` reads the secret from the environment when the config is loaded. */
const secretRef = z.string().min(1);

const timeoutsSchema = z
  .object({
    /** TCP + TLS connect. */
    connectMs: z.number().int().positive().default(10_000),
    /** Until the upstream's response headers (and, for streams, its first event). */
    firstByteMs: z.number().int().positive().default(60_000),
    /** Longest silence between two body chunks once the response started. */
    idleMs: z.number().int().positive().default(60_000),
  })
  .strict();

const channelFields = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[\w.-]+$/, 'letters, digits, "_", "-" and "." only'),
    type: z.enum(channelTypes).default(defaultChannelType),
    /** Required except on bedrock channels, which take `region` and maybe `endpoint` instead. */
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    apiKey: secretRef.optional(),
    /** Bedrock: the AWS region of the runtime endpoint. */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as us-east-1')
      .optional(),
    /** Bedrock: an endpoint override (a VPC endpoint, or a local fake in tests). */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** Upstream model names (or patterns with `*`) this channel serves. */
    models: z.array(z.string().min(1)).default([]),
    /** Client-facing alias → upstream model name. */
    modelMap: z.record(z.string().min(1), z.string().min(1)).default({}),
    priority: z.number().int().default(0),
    weight: z.number().positive().default(1),
    enabled: z.boolean().default(true),
    headers: z.record(z.string(), z.string()).default({}),
    timeouts: timeoutsSchema.default({ connectMs: 10_000, firstByteMs: 60_000, idleMs: 60_000 }),
  })
  .strict();

/**
 * A bedrock channel signs with the default AWS credential chain (on the host, its instance
 * role): it has no key to set, and its base URL is the region's runtime endpoint.
 */
export const channelSchema = channelFields
  .superRefine((ch, ctx) => {
    const issue = (key: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [key], message });
    if (ch.type === 'bedrock') {
      if (!ch.region) issue('region', 'a bedrock channel needs its AWS region');
      if (ch.apiKey !== undefined)
        issue('apiKey', 'a bedrock channel takes no apiKey: it uses the AWS credential chain');
      if (ch.baseUrl !== undefined)
        issue('baseUrl', 'a bedrock channel takes "region" (and optionally "endpoint")');
      return;
    }
    const missing = 'Invalid input: expected string, received undefined';
    if (ch.baseUrl === undefined) issue('baseUrl', missing);
    if (ch.apiKey === undefined) issue('apiKey', missing);
    for (const key of ['region', 'endpoint'] as const)
      if (ch[key] !== undefined) issue(key, 'only bedrock channels take this');
  })
  .transform(({ baseUrl, apiKey, ...ch }) => ({
    ...ch,
    baseUrl: baseUrl ?? ch.endpoint ?? `https://bedrock-runtime.${ch.region}.amazonaws.com`,
    apiKey: apiKey ?? '',
  }));

const keySchema = z
  .object({
    name: z.string().min(1).max(64),
    key: z
      .string()
      .refine(
        (k) => k.startsWith('env:') || k.length >= 16,
        'keys must be at least 16 characters (or "env:NAME")',
      ),
    quota: z.number().nonnegative().nullable().optional(),
    models: z.array(z.string().min(1)).default(['*']),
    expiresAt: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
    /** Requests per minute; absent = no limit. */
    rpm: z.number().int().positive().optional(),
    /** Tokens (prompt + completion) per minute; absent = no limit. */
    tpm: z.number().int().positive().optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

/**
 * USD per 1M tokens (`input`, `output`, and the prompt cache's `cacheRead`, `cacheWrite5m`,
 * `cacheWrite1h`), per image, per request or per audio minute. `cachedInput` is the older
 * name of `cacheRead`. An unpriced cache kind costs what plain input costs.
 */
const priceSchema = z
  .object({
    input: z.number().nonnegative().optional(),
    output: z.number().nonnegative().optional(),
    cacheRead: z.number().nonnegative().optional(),
    cacheWrite5m: z.number().nonnegative().optional(),
    cacheWrite1h: z.number().nonnegative().optional(),
    cachedInput: z.number().nonnegative().optional(),
    image: z.number().nonnegative().optional(),
    request: z.number().nonnegative().optional(),
    audioMinute: z.number().nonnegative().optional(),
  })
  .strict();

type BreakerRules = Pick<
  BreakerOptions,
  'cooldownMs' | 'maxCooldownMs' | 'consecutiveFailures' | 'minimumCalls'
>;

/** Circuit breakers per channel and per channel+model; README "Circuit breakers" explains them. */
const breakerSchema = z
  .object({
    /** The sliding window over which calls and failures are counted. */
    windowMs: z.number().int().min(1_000).default(DEFAULT_BREAKER_OPTIONS.windowMs),
    /** Calls in the window from which the failure rate is judged. */
    minimumCalls: z.number().int().min(1).default(DEFAULT_BREAKER_OPTIONS.minimumCalls),
    /** Share of failed calls that opens a circuit, once minimumCalls is reached. */
    failureRate: z.number().gt(0).max(1).default(DEFAULT_BREAKER_OPTIONS.failureRate),
    /** Below minimumCalls: failures in a row that open a circuit. */
    consecutiveFailures: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_BREAKER_OPTIONS.consecutiveFailures),
    /** Connection failures in a row that open a channel at any volume. */
    connectFailures: z.number().int().min(1).default(DEFAULT_BREAKER_OPTIONS.connectFailures),
    /** Models whose circuits are open on one channel before the whole channel opens. */
    modelsToOpenChannel: z
      .number()
      .int()
      .min(2)
      .default(DEFAULT_BREAKER_OPTIONS.modelsToOpenChannel),
    cooldownMs: z.number().int().min(0).default(DEFAULT_BREAKER_OPTIONS.cooldownMs),
    maxCooldownMs: z.number().int().min(0).default(DEFAULT_BREAKER_OPTIONS.maxCooldownMs),
    deadProbeIntervalMs: z
      .number()
      .int()
      .min(1_000)
      .default(DEFAULT_BREAKER_OPTIONS.deadProbeIntervalMs),
    /**
     * A probe holds its circuit's one slot until its first content (or its failure); one that
     * never reports back frees it after this long. Keep it above `requestBudgetMs`.
     */
    probeLeaseMs: z.number().int().min(1_000).default(DEFAULT_BREAKER_OPTIONS.probeLeaseMs),
  })
  .strict()
  .superRefine(checkBreakerRules);

/** Settings that are each valid alone but make no sense together. */
function checkBreakerRules(b: BreakerRules, ctx: z.RefinementCtx): void {
  const issue = (path: keyof BreakerRules, message: string) =>
    ctx.addIssue({ code: 'custom', path: [path], message });
  if (b.cooldownMs < 1) {
    issue('cooldownMs', 'cooldownMs must be at least 1 ms: 0 would never hold an open circuit');
  }
  if (b.maxCooldownMs < Math.max(1, b.cooldownMs)) {
    issue(
      'maxCooldownMs',
      `maxCooldownMs (${b.maxCooldownMs}) must be at least cooldownMs (${b.cooldownMs}): ` +
        "it caps the cooldown an upstream's Retry-After asks for",
    );
  }
  if (b.consecutiveFailures > b.minimumCalls) {
    issue(
      'consecutiveFailures',
      `consecutiveFailures (${b.consecutiveFailures}) must not exceed minimumCalls ` +
        `(${b.minimumCalls}): from minimumCalls calls on the failure rate decides, so that many ` +
        'failures in a row would never open a circuit',
    );
  }
}

/** More would be a typo, not a machine: each worker is a whole Node process. */
const MAX_WORKERS = 256;

/** Relay processes sharing the port: a count, or "auto" for one per available CPU. */
const workersSchema = z.union([z.number().int().positive().max(MAX_WORKERS), z.literal('auto')]);

/** RELAY_WORKERS arrives as text: the same values as the file's `server.workers`. */
const workersEnvSchema = z.union([
  z.literal('auto'),
  z.coerce.number().int().positive().max(MAX_WORKERS),
]);

const serverSchema = z
  .object({
    /** Requests (other than /healthz) must carry it in `x-origin-secret` when set. */
    originSecret: secretRef.optional(),
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(26 * 1024 * 1024),
    /** Where clients reach the relay; image URLs are built on it. */
    publicBaseUrl: z.url().optional(),
    corsOrigins: z.array(z.string().min(1)).default(['*']),
    /** SSE comment interval while a stream waits for its first token. */
    heartbeatMs: z.number().int().positive().default(15_000),
    /** Completion tokens reserved against quota when a request names no max_tokens. */
    defaultMaxTokens: z.number().int().positive().default(4096),
    /** Tries on one channel (first try included) before failing over to the next. */
    maxAttemptsPerChannel: z.number().int().min(1).max(10).default(2),
    /** Time a request may spend on retries and failover before its first content byte. */
    requestBudgetMs: z.number().int().positive().default(120_000),
    /**
     * Longest a non-streaming request may take, retries and the whole answer included; past it
     * the client gets a 504 that suggests `stream: true`. Behind a CDN, keep it below the CDN's
     * origin read timeout, which would otherwise cut the request while the relay still bills it
     * (the CDK app derives it). Unset: only `requestBudgetMs` applies.
     */
    nonStreamBudgetMs: z.number().int().positive().optional(),
    /** A streaming client that takes no bytes for this long is treated as gone. */
    clientStallMs: z.number().int().positive().default(120_000),
    /** How long SIGTERM waits for in-flight requests and streams. */
    shutdownGraceMs: z.number().int().positive().default(30_000),
    /**
     * Open connections per upstream origin. Each stream holds one for its whole length, so
     * this caps concurrent streams to one provider; requests past it wait for a free one.
     */
    upstreamConnections: z.number().int().positive().default(1024),
    /** 1 = one process (the default); more = a cluster primary forking that many workers. */
    workers: workersSchema.default(1),
    breaker: breakerSchema.default(breakerSchema.parse({})),
  })
  .strict();

/** Operators of the admin console and API; separate from client keys in every way. */
const adminSchema = z
  .object({
    keys: z
      .array(z.object({ name: z.string().min(1).max(64), key: secretRef }).strict())
      .default([]),
    /** How long a console login lasts. */
    sessionHours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(12),
  })
  .strict();

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const usageSchema = z
  .object({
    /** Raw usage rows older than this are pruned; the daily rollups stay. */
    retainDays: z.number().int().positive().max(36_500).default(90),
    /** Where "today" and "this month" begin, for rollups and the console. */
    timeZone: z
      .string()
      .refine(isTimeZone, 'must be an IANA time zone such as "UTC" or "Asia/Shanghai"')
      .default('UTC'),
  })
  .strict();

export const relayConfigSchema = z
  .object({
    server: serverSchema.default(serverSchema.parse({})),
    admin: adminSchema.default(adminSchema.parse({})),
    usage: usageSchema.default(usageSchema.parse({})),
    channels: z.array(channelSchema).optional(),
    keys: z.array(keySchema).default([]),
    prices: z.record(z.string().min(1), priceSchema).default({}),
    images: imagesConfigSchema,
    backup: backupConfigSchema,
    store: storeConfigSchema,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    uniqueNames(cfg.channels ?? [], 'channels', 'channel', ctx);
    uniqueNames(cfg.keys, 'keys', 'key', ctx);
    uniqueNames(cfg.admin.keys, 'admin.keys', 'admin key', ctx);
  });

function uniqueNames(
  items: readonly { name: string }[],
  section: string,
  what: string,
  ctx: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) {
      ctx.addIssue({
        code: 'custom',
        path: [section, i, 'name'],
        message: `duplicate ${what} name "${item.name}"`,
      });
    }
    seen.add(item.name);
  });
}

export type RawRelayConfig = z.infer<typeof relayConfigSchema>;
export type ChannelConfig = z.output<typeof channelSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type Price = z.infer<typeof priceSchema>;
/** `workers` is resolved to a count ("auto" and RELAY_WORKERS applied). */
export type ServerConfig = Omit<z.infer<typeof serverSchema>, 'workers'> & {
  originSecret?: string;
  workers: number;
};

export type UsageConfig = z.infer<typeof usageSchema>;

/** An admin key as the relay keeps it: the key itself is dropped once hashed. */
export interface AdminKeyConfig {
  readonly name: string;
  readonly hash: string;
  readonly hint: string;
}

export interface AdminConfig {
  readonly keys: readonly AdminKeyConfig[];
  readonly sessionHours: number;
}

/** The config after secrets were resolved and defaults applied: what the app runs on. */
export interface RelayConfig {
  readonly server: ServerConfig;
  readonly admin: AdminConfig;
  readonly usage: UsageConfig;
  readonly channels: readonly ChannelConfig[];
  readonly keys: readonly KeyConfig[];
  readonly prices: Readonly<Record<string, Price>>;
  readonly images: ImagesConfig;
  /** Online database backups to S3; absent = none. */
  readonly backup?: BackupConfig;
  /** Where keys, quota, usage and rate windows live. */
  readonly store: StoreConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Validates a config object, resolves `env:` secrets and, with no channels listed, adds env channels. */
export function parseRelayConfig(input: unknown, env: Env, source = 'config'): RelayConfig {
  const parsed = relayConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`,
    );
    throw new ConfigError(`Invalid relay config in ${source}:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data;
  const channels = (cfg.channels ?? channelsFromEnv(env)).map((ch, i) => {
    // A bedrock channel has no key: AWS credentials sign its requests.
    const apiKey =
      ch.type === 'bedrock' ? '' : resolveSecret(ch.apiKey, env, `channels.${i}.apiKey`);
    if (ch.type !== 'bedrock') headerSafe(`Bearer ${apiKey}`, `channels.${i}.apiKey`);
    for (const [name, value] of Object.entries(ch.headers)) {
      if (!HEADER_NAME.test(name))
        throw new ConfigError(`channels.${i}.headers: "${name}" is not a valid header name`);
      headerSafe(value, `channels.${i}.headers.${name}`);
    }
    return { ...ch, apiKey };
  });
  const server: ServerConfig = {
    ...cfg.server,
    workers: workerCount(cfg.server.workers, env.RELAY_WORKERS),
    ...(cfg.server.originSecret !== undefined && {
      originSecret: headerSafe(
        resolveSecret(cfg.server.originSecret, env, 'server.originSecret'),
        'server.originSecret',
      ),
    }),
  };
  const keys = cfg.keys.map((k, i) => {
    const key = resolveSecret(k.key, env, `keys.${i}.key`);
    headerSafe(key, `keys.${i}.key`);
    if (key.length < 16)
      throw new ConfigError(`keys.${i}.key: keys must be at least 16 characters`);
    return { ...k, key };
  });
  const admin = { ...cfg.admin, keys: adminKeys(cfg.admin.keys, keys, env) };
  return {
    server,
    admin,
    usage: cfg.usage,
    channels,
    keys,
    prices: cfg.prices,
    images: cfg.images,
    store: cfg.store,
    ...(cfg.backup && { backup: cfg.backup }),
  };
}

/**
 * The config's admin keys plus `ADMIN_KEY` (named "admin"), hashed. An admin key must never
 * double as a client key: the two are looked up in different places, so a shared secret
 * would make one of them silently stop working as intended.
 */
function adminKeys(
  configured: readonly { name: string; key: string }[],
  clientKeys: readonly { key: string }[],
  env: Env,
): AdminKeyConfig[] {
  const entries = configured.map((k, i) => ({
    name: k.name,
    key: resolveSecret(k.key, env, `admin.keys.${i}.key`),
    path: `admin.keys.${i}.key`,
  }));
  if (env.ADMIN_KEY && !entries.some((k) => k.name === 'admin'))
    entries.push({ name: 'admin', key: env.ADMIN_KEY, path: 'ADMIN_KEY' });
  return entries.map(({ name, key, path }) => {
    headerSafe(key, path);
    if (key.length < 16)
      throw new ConfigError(`${path}: admin keys must be at least 16 characters`);
    if (clientKeys.some((c) => c.key === key))
      throw new ConfigError(`${path}: an admin key must not also be a client key`);
    return { name, hash: hashKey(key), hint: keyHint(key) };
  });
}

/** RELAY_WORKERS, when set, wins over the file, so one config serves a laptop and a big host. */
function workerCount(fromFile: number | 'auto', fromEnv: string | undefined): number {
  let value = fromFile;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const parsed = workersEnvSchema.safeParse(fromEnv.trim());
    if (!parsed.success) {
      throw new ConfigError(
        `RELAY_WORKERS: must be a positive integer up to ${MAX_WORKERS} or "auto" (got "${fromEnv}")`,
      );
    }
    value = parsed.data;
  }
  return value === 'auto' ? availableParallelism() : value;
}

/** A value that would break an HTTP header; the message names the setting, never the value. */
function headerSafe(value: string, path: string): string {
  // HTTP header values are visible ASCII (and tab): anything else would fail on every request.
  if (!/^[\t\x20-\x7e]*$/.test(value) || value !== value.trim()) {
    throw new ConfigError(
      `${path}: contains a line break, a non-ASCII or control character, or surrounding space (a pasted secret?)`,
    );
  }
  return value;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function resolveSecret(value: string, env: Env, path: string): string {
  if (!value.startsWith('env:')) return value;
  const name = value.slice(4);
  const resolved = env[name];
  if (resolved === undefined || resolved === '') {
    throw new ConfigError(`${path}: environment variable ${name} is not set`);
  }
  return resolved;
}

/** A newcomer with only `OPENAI_API_KEY` (or DEEPSEEK_API_KEY, …) set gets a working relay. */
export function channelsFromEnv(env: Env): ChannelConfig[] {
  return wellKnownProviders
    .filter((p) => env[p.keyEnv])
    .map((p) =>
      channelSchema.parse({
        name: p.id,
        type: p.type,
        baseUrl: env[p.baseUrlEnv] || p.baseUrl,
        apiKey: `env:${p.keyEnv}`,
        models: [...p.models],
      }),
    );
}

/** The config file's JSON, before validation, and where it came from (for error messages). */
export interface RelayConfigInput {
  readonly json: unknown;
  readonly source: string;
}

/** Reads RELAY_CONFIG (default ./relay.config.json); a missing default file means "all defaults". */
export function readRelayConfigInput(env: Env): RelayConfigInput {
  const explicit = env.RELAY_CONFIG;
  const path = explicit || './relay.config.json';
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError(`RELAY_CONFIG points at ${path}, which does not exist`);
    return { json: {}, source: '(defaults)' };
  }
  try {
    return { json: JSON.parse(readFileSync(path, 'utf8')) as unknown, source: path };
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export function loadRelayConfig(env: Env): RelayConfig {
  const { json, source } = readRelayConfigInput(env);
  return parseRelayConfig(json, env, source);
}
