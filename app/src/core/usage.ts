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
