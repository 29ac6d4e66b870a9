import type { TokenUsage } from '../core/usage.ts';

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;

/**
 * Reads the usage object of any OpenAI-style response: chat/completions/embeddings
 * (`prompt_tokens`), responses and transcriptions (`input_tokens`), duration-billed audio
 * (`seconds`). An explicit 0 is a real 0; only a missing object is "not reported".
 * DeepSeek reports cache hits as `prompt_cache_hit_tokens`.
 */
export function readUsage(usage: unknown): TokenUsage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens);
  const completion = num(u.completion_tokens) ?? num(u.output_tokens);
  const seconds = num(u.seconds);
  if (prompt === undefined && completion === undefined && seconds === undefined) return undefined;
  const inDetails = (u.prompt_tokens_details ?? u.input_tokens_details) as
    Record<string, unknown> | undefined;
  const outDetails = (u.completion_tokens_details ?? u.output_tokens_details) as
    Record<string, unknown> | undefined;
  const cached = num(inDetails?.cached_tokens) ?? num(u.prompt_cache_hit_tokens);
  const reasoning = num(outDetails?.reasoning_tokens);
  return {
    promptTokens: prompt ?? 0,
    completionTokens: completion ?? 0,
    ...(cached !== undefined && { cacheReadTokens: cached }),
    ...(reasoning !== undefined && { reasoningTokens: reasoning }),
    ...(seconds !== undefined && { audioSeconds: seconds }),
  };
}

/** Usage carried by a JSON response body or one stream event (`response.completed` nests it). */
export function usageFromPayload(payload: unknown): TokenUsage | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const direct = readUsage(p.usage);
  if (direct) return direct;
  const nested = p.response as Record<string, unknown> | undefined;
  return nested ? readUsage(nested.usage) : undefined;
}

/** Inline media (base64 of at least 1 KiB): an image costs a model about this many tokens, whatever its size. */
const MEDIA = /[A-Za-z0-9+/]{1024,}={0,2}/g;
const TOKENS_PER_MEDIA = 1_600;

/**
 * A request body's prompt tokens, roughly: its text as estimateTokens counts it, with each inline
 * image or file counted as one image (the model sees pixels, not base64), so a screenshot does
 * not hold dollars of quota or count as half a million tokens.
 */
export function estimatePromptTokens(body: string): number {
  let media = 0;
  const text = body.length < 1024 ? body : body.replace(MEDIA, () => (media++, ''));
  return estimateTokens(text) + media * TOKENS_PER_MEDIA;
}

/** A rough count for when the upstream reports nothing: ~3 UTF-8 bytes a token covers CJK and Latin alike. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}
