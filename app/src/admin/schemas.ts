/**
 * The admin API's request and response shapes. They validate requests and are the source of
 * the OpenAPI 3.1 document at /admin/api/openapi.json, so the document cannot drift from the code.
 */
import { z } from '@hono/zod-openapi';
import { isDay } from '../usage/days.ts';

export const ErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      code: z.string(),
      param: z.string().nullable(),
    }),
    request_id: z.string(),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({
  content: { 'application/json': { schema: ErrorSchema } },
  description,
});

/** The errors every authenticated route can answer with. */
export const commonErrors = {
  400: errorResponse('Invalid input (the message names the field)'),
  401: errorResponse('No or wrong admin key, or no session'),
  403: errorResponse('A session request without its CSRF token'),
  429: errorResponse('Too many failed logins from this address'),
} as const;

export const notFound = { 404: errorResponse('No such key or channel') } as const;
export const conflict = {
  409: errorResponse('The change conflicts with the current state (e.g. a config-file key)'),
} as const;

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { 'application/json': { schema } },
  required: true,
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

const iso = z.string().openapi({ format: 'date-time', example: '2026-11-22T08:30:00.000Z' });

export const DaySchema = z
  .string()
  .refine(isDay, 'must be a date as YYYY-MM-DD')
  .openapi({ example: '2026-11-22' });

/** A day (midnight UTC) or a full ISO timestamp. */
const dateInput = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v)), {
    message: 'must be YYYY-MM-DD or an ISO timestamp',
  })
  .openapi({ example: '2027-01-01' });

export const KeyNameParam = z.object({
  name: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'name', in: 'path' }, example: 'alice' }),
});

const models = z.array(z.string().min(1).max(200)).min(1).max(200);

export const KeySchema = z
  .object({
    name: z.string(),
    hint: z.string().openapi({
      description: 'The last characters (a quarter at most), after sk-relay- for generated keys',
    }),
    quotaUsd: z.number().nullable().openapi({ description: 'null = unlimited' }),
    usedUsd: z.number(),
    reservedUsd: z.number().openapi({ description: 'Held by requests in flight' }),
    remainingUsd: z.number().nullable(),
    models: z.array(z.string()),
    expiresAt: iso.nullable(),
    rpm: z.number().int().nullable(),
    tpm: z.number().int().nullable().openapi({ description: 'Tokens per minute; null = no limit' }),
    enabled: z.boolean(),
    createdAt: iso,
    source: z.enum(['config', 'console']).openapi({
      description:
        'Keys from the config file are re-applied at every start, so they are read-only here',
    }),
    lastUsedAt: iso.nullable(),
    usage: z.object({
      todayUsd: z.number(),
      last30Days: z.object({
        requests: z.number().int(),
        errors: z.number().int(),
        costUsd: z.number(),
      }),
    }),
  })
  .openapi('Key');

export const CreateKeySchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[^\s/?#]+$/, 'no spaces, "/", "?" or "#"'),
    quotaUsd: z.number().nonnegative().max(1e9).nullable().optional(),
    models: models.optional(),
    expiresAt: dateInput.nullable().optional(),
    rpm: z.number().int().positive().max(1e7).nullable().optional(),
    tpm: z.number().int().positive().max(1e12).nullable().optional(),
  })
  .strict()
  .openapi('CreateKey');

export const UpdateKeySchema = z
  .object({
    quotaUsd: z.number().nonnegative().max(1e9).nullable().optional(),
    models: models.optional(),
    expiresAt: dateInput.nullable().optional(),
    rpm: z.number().int().positive().max(1e7).nullable().optional(),
    tpm: z.number().int().positive().max(1e12).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('UpdateKey');

export const TopUpSchema = z
  .object({ amountUsd: z.number().positive().max(1e9) })
  .strict()
  .openapi('TopUp');

export const CreatedKeySchema = z
  .object({
    key: KeySchema,
    secret: z
      .string()
      .openapi({ description: 'The client key: shown in this answer only, never again' }),
  })
  .openapi('CreatedKey');

const tokens = {
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  cacheWrite5mTokens: z.number().int(),
  cacheWrite1hTokens: z.number().int(),
  reasoningTokens: z.number().int(),
};

export const UsageRowSchema = z
  .object({
    group: z.string().openapi({ description: 'Key name, model, channel or day; "" when none' }),
    requests: z.number().int(),
    errors: z.number().int(),
    serverErrors: z.number().int(),
    ...tokens,
    costUsd: z.number(),
    avgLatencyMs: z.number().nullable(),
    avgTtfbMs: z.number().nullable(),
  })
  .openapi('UsageRow');

export const UsageQuerySchema = z.object({
  from: DaySchema.optional().openapi({ description: 'First day (default: 29 days before to)' }),
  to: DaySchema.optional().openapi({ description: 'Last day, included (default: today)' }),
  groupBy: z.enum(['key', 'model', 'channel', 'day']).default('day'),
  key: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  channel: z.string().min(1).optional(),
});

export const UsageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    timeZone: z.string(),
    groupBy: z.string(),
    rows: z.array(UsageRowSchema),
    total: UsageRowSchema,
  })
  .openapi('UsageReport');

export const ExportQuerySchema = z.object({
  from: DaySchema.optional(),
  to: DaySchema.optional(),
  key: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  channel: z.string().min(1).optional(),
});

const percentiles = z.object({ p50: z.number().nullable(), p99: z.number().nullable() });

const ranked = z.array(
  z.object({ name: z.string(), requests: z.number().int(), costUsd: z.number() }),
);

export const OverviewSchema = z
  .object({
    now: iso,
    timeZone: z.string(),
    today: z.string(),
    live: z.object({
      windowMinutes: z.number().int(),
      requests: z.number().int(),
      rpm: z.number().openapi({ description: 'Requests in the last minute' }),
      errorRate: z.number().openapi({ description: 'Share of requests answered 5xx' }),
      clientErrorRate: z.number().openapi({ description: 'Share answered 4xx' }),
      latencyMs: percentiles,
      ttftMs: percentiles.openapi({
        description: 'Time to first token (first byte of the answer)',
      }),
      perMinute: z.array(
        z.object({ at: iso, requests: z.number().int(), errors: z.number().int() }),
      ),
    }),
    spend: z.object({ todayUsd: z.number(), monthUsd: z.number() }),
    requests: z.object({ today: z.number().int(), month: z.number().int() }),
    daily: z.array(z.object({ day: z.string(), requests: z.number().int(), costUsd: z.number() })),
    topModels: ranked,
    topKeys: ranked,
  })
  .openapi('Overview');

export const CircuitSchema = z
  .looseObject({
    channel: z.string(),
    model: z.string().nullable(),
    state: z.string(),
  })
  .openapi('Circuit', {
    description: "The breaker's snapshot of one circuit (/healthz only summarises them)",
  });

export const ChannelSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    baseUrl: z.string(),
    models: z.array(z.string()),
    aliases: z.array(z.string()),
    priority: z.number(),
    weight: z.number(),
    configEnabled: z.boolean(),
    enabled: z.boolean().openapi({ description: 'Whether requests go to it now' }),
    override: z.object({ enabled: z.boolean(), by: z.string(), at: iso }).nullable(),
    state: z.enum(['ok', 'degraded', 'open', 'disabled']),
    circuits: z.array(CircuitSchema),
    recent: z.object({
      windowMinutes: z.number().int(),
      requests: z.number().int(),
      errors: z.number().int(),
      errorRate: z.number(),
      latencyMs: percentiles,
      lastError: z
        .object({
          at: iso,
          status: z.number().int(),
          code: z.string().nullable(),
          message: z.string().nullable(),
        })
        .nullable(),
    }),
  })
  .openapi('Channel');

export const ChannelNameParam = z.object({
  name: z
    .string()
    .min(1)
    .openapi({ param: { name: 'name', in: 'path' }, example: 'deepseek' }),
});

export const ChannelPatchSchema = z
  .object({ enabled: z.boolean() })
  .strict()
  .openapi('ChannelPatch');

export const ChannelTestSchema = z
  .object({ model: z.string().min(1).max(200).optional() })
  .strict()
  .openapi('ChannelTestRequest');

export const ChannelTestResultSchema = z
  .object({
    ok: z.boolean(),
    channel: z.string(),
    model: z.string(),
    status: z.number().int().nullable().openapi({ description: "The upstream's HTTP status" }),
    latencyMs: z.number(),
    answer: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi('ChannelTestResult');

export const RequestSchema = z
  .object({
    requestId: z.string(),
    at: iso,
    key: z.string().nullable(),
    endpoint: z.string(),
    model: z.string().nullable(),
    upstreamModel: z.string().nullable(),
    channel: z.string().nullable(),
    status: z.number().int(),
    ...tokens,
    costUsd: z.number(),
    latencyMs: z.number(),
    ttfbMs: z.number().nullable(),
    source: z.string(),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    attempts: z.number().int().nullable(),
  })
  .openapi('Request');

export const RequestsQuerySchema = z.object({
  requestId: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  channel: z.string().min(1).optional(),
  status: z
    .union([z.enum(['error', 'ok']), z.coerce.number().int().min(100).max(599)])
    .optional()
    .openapi({ description: 'A status code, "error" (400 and above) or "ok"' }),
  from: dateInput.optional(),
  to: dateInput.optional(),
  cursor: z
    .string()
    .regex(/^\d+\.\d+$/, 'must be the "next" of an earlier page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const pageOf = <T extends z.ZodType>(schema: T, name: string) =>
  z.object({ rows: z.array(schema), next: z.string().nullable() }).openapi(name);

export const AuditSchema = z
  .object({
    id: z.number().int(),
    at: iso,
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
    requestId: z.string(),
    ip: z.string().nullable(),
  })
  .openapi('AuditEntry');

export const AuditQuerySchema = z.object({
  action: z.string().min(1).optional(),
  cursor: z.string().regex(/^\d+$/, 'must be the "next" of an earlier page').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const LoginSchema = z
  .object({ key: z.string().min(1).max(1000) })
  .strict()
  .openapi('Login');

export const SessionSchema = z
  .object({
    admin: z.string().nullable().openapi({ description: 'null when not logged in' }),
    via: z.enum(['key', 'session']).nullable(),
    csrfToken: z.string().nullable().openapi({
      description: 'Send it as x-csrf-token on every change made with the session cookie',
    }),
    expiresAt: iso.nullable(),
  })
  .openapi('Session');
