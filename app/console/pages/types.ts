/** What the admin API answers (see /admin/api/openapi.json). */

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

export interface Ranked {
  name: string;
  requests: number;
  costUsd: number;
}

export interface Overview {
  now: string;
  timeZone: string;
  today: string;
  live: {
    windowMinutes: number;
    requests: number;
    rpm: number;
    errorRate: number;
    clientErrorRate: number;
    latencyMs: Percentiles;
    ttftMs: Percentiles;
    perMinute: { at: string; requests: number; errors: number }[];
  };
  spend: { todayUsd: number; monthUsd: number };
  requests: { today: number; month: number };
  daily: { day: string; requests: number; costUsd: number }[];
  topModels: Ranked[];
  topKeys: Ranked[];
}

export interface Key {
  name: string;
  hint: string;
  quotaUsd: number | null;
  usedUsd: number;
  reservedUsd: number;
  remainingUsd: number | null;
  models: string[];
  expiresAt: string | null;
  rpm: number | null;
  tpm: number | null;
  enabled: boolean;
  createdAt: string;
  source: 'config' | 'console';
  lastUsedAt: string | null;
  usage: { todayUsd: number; last30Days: { requests: number; errors: number; costUsd: number } };
}

/** Token counts; cache and reasoning tokens are parts of prompt and completion. */
export interface Tokens {
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  reasoningTokens: number;
}

export interface UsageRow extends Tokens {
  group: string;
  requests: number;
  errors: number;
  serverErrors: number;
  costUsd: number;
  avgLatencyMs: number | null;
  avgTtfbMs: number | null;
}

export interface UsageReport {
  from: string;
  to: string;
  timeZone: string;
  groupBy: string;
  rows: UsageRow[];
  total: UsageRow;
}

export interface Channel {
  name: string;
  type: string;
  baseUrl: string;
  models: string[];
  aliases: string[];
  priority: number;
  weight: number;
  configEnabled: boolean;
  enabled: boolean;
  override: { enabled: boolean; by: string; at: string } | null;
  state: 'ok' | 'degraded' | 'open' | 'disabled';
  circuits: { channel: string; model: string | null; state: string; failuresInWindow?: number }[];
  recent: {
    windowMinutes: number;
    requests: number;
    errors: number;
    errorRate: number;
    latencyMs: Percentiles;
    lastError: { at: string; status: number; code: string | null; message: string | null } | null;
  };
}

export interface ChannelTest {
  ok: boolean;
  channel: string;
  model: string;
  status: number | null;
  latencyMs: number;
  answer: string | null;
  error: string | null;
}

export interface RequestRow extends Tokens {
  requestId: string;
  at: string;
  key: string | null;
  endpoint: string;
  model: string | null;
  upstreamModel: string | null;
  channel: string | null;
  status: number;
  costUsd: number;
  latencyMs: number;
  ttfbMs: number | null;
  source: string;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number | null;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  requestId: string;
  ip: string | null;
}

export interface Page<T> {
  rows: T[];
  next: string | null;
}
