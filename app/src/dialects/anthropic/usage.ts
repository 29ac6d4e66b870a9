/**
 * The relay's token counts in Anthropic's words. Anthropic's `input_tokens` excludes the cache
 * parts, so the prompt total is split back into its three disjoint parts; the cache fields are
 * always present (as Anthropic sends them), since clients such as Claude Code add them up to
 * show context use.
 */
import type { TokenUsage } from '../../core/usage.ts';

export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  output_tokens_details?: { thinking_tokens: number };
}

export function anthropicUsage(usage: TokenUsage): AnthropicUsage {
  const read = usage.cacheReadTokens ?? 0;
  const write5m = usage.cacheWrite5mTokens ?? 0;
  const write1h = usage.cacheWrite1hTokens ?? 0;
  return {
    input_tokens: Math.max(0, usage.promptTokens - read - write5m - write1h),
    cache_creation_input_tokens: write5m + write1h,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: write5m, ephemeral_1h_input_tokens: write1h },
    output_tokens: usage.completionTokens,
    ...(usage.reasoningTokens !== undefined && {
      output_tokens_details: { thinking_tokens: usage.reasoningTokens },
    }),
  };
}
