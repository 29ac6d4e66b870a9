/**
 * Anthropic's usage object in the relay's one meaning. Anthropic reports input in three
 * disjoint parts (`input_tokens` excludes cache reads and writes); TokenUsage.promptTokens is
 * their sum, with the cache parts kept as parts of it.
 */
import type { TokenUsage } from '../../core/usage.ts';
import { isObject } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;

const record = (v: unknown): Json | undefined => (isObject(v) ? v : undefined);

/**
 * `usage` of a message, a message_start or a merge of message_delta usages. Cache writes split
 * by lifetime when `cache_creation` says how; without it they are 5-minute writes, Anthropic's
 * default lifetime. Undefined when the object says nothing about tokens.
 */
export function readAnthropicUsage(usage: unknown): TokenUsage | undefined {
  const u = record(usage);
  if (!u) return undefined;
  const input = num(u.input_tokens);
  const output = num(u.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  const read = num(u.cache_read_input_tokens) ?? 0;
  const created = num(u.cache_creation_input_tokens) ?? 0;
  const split = record(u.cache_creation);
  const write1h = num(split?.ephemeral_1h_input_tokens) ?? 0;
  // Whatever the split does not account for is written at the default lifetime.
  const write5m = Math.max(num(split?.ephemeral_5m_input_tokens) ?? 0, created - write1h);
  const thinking = num(record(u.output_tokens_details)?.thinking_tokens);
  return {
    promptTokens: (input ?? 0) + read + write5m + write1h,
    completionTokens: output ?? 0,
    ...(read > 0 && { cacheReadTokens: read }),
    ...(write5m > 0 && { cacheWrite5mTokens: write5m }),
    ...(write1h > 0 && { cacheWrite1hTokens: write1h }),
    ...(thinking !== undefined && { reasoningTokens: thinking }),
  };
}

/**
 * A stream's usage so far: message_start's usage, then each message_delta's usage on top. Later
 * counts replace earlier ones field by field (they are running totals, never increments), and
 * a null or absent field keeps the earlier value, as the SDK's accumulator does.
 */
export function mergeAnthropicUsage(
  base: Record<string, unknown> | undefined,
  next: unknown,
): Record<string, unknown> | undefined {
  const n = record(next);
  if (!n) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(n))
    if (value !== null && value !== undefined) out[key] = value;
  return out;
}
