/**
 * Token counts as the upstream reported them, in one meaning whatever the dialect:
 * `promptTokens` is every input token (cache reads and cache writes included, as OpenAI
 * counts them; Anthropic reports them apart and is summed up on the way in) and
 * `completionTokens` every output token (reasoning included). The other counts are parts of
 * those two, each billed at its own price. `undefined` fields were not reported.
 */
export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Input tokens read from the provider's prompt cache. */
  readonly cacheReadTokens?: number;
  /** Input tokens written to the prompt cache with a 5-minute lifetime (Anthropic's default). */
  readonly cacheWrite5mTokens?: number;
  /** Input tokens written to the prompt cache with a 1-hour lifetime. */
  readonly cacheWrite1hTokens?: number;
  /** Output tokens spent thinking. */
  readonly reasoningTokens?: number;
  readonly audioSeconds?: number;
}

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

/** A rough count for when the upstream reports nothing: ~3 UTF-8 bytes a token covers CJK and Latin alike. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}
