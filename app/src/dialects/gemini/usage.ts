/**
 * Gemini's `usageMetadata` in the relay's one meaning, both ways. Gemini counts thinking apart
 * from the answer (`candidatesTokenCount` leaves `thoughtsTokenCount` out) but bills it as
 * output, so completionTokens is their sum; `cachedContentTokenCount` is a part of
 * `promptTokenCount`, as cache reads are of promptTokens; tool-use prompt tokens are input.
 */
import type { TokenUsage } from '../../core/usage.ts';
import { count, isObject } from '../../core/json.ts';

export function readGeminiUsage(metadata: unknown): TokenUsage | undefined {
  if (!isObject(metadata)) return undefined;
  const prompt = count(metadata.promptTokenCount);
  const answer = count(metadata.candidatesTokenCount);
  const thoughts = count(metadata.thoughtsTokenCount);
  if (prompt === undefined && answer === undefined && thoughts === undefined) return undefined;
  const cached = count(metadata.cachedContentTokenCount) ?? 0;
  const toolPrompt = count(metadata.toolUsePromptTokenCount) ?? 0;
  return {
    promptTokens: (prompt ?? 0) + toolPrompt,
    completionTokens: (answer ?? 0) + (thoughts ?? 0),
    ...(cached > 0 && { cacheReadTokens: cached }),
    ...(thoughts !== undefined && { reasoningTokens: thoughts }),
  };
}

export interface GeminiUsageMetadata {
  promptTokenCount: number;
  candidatesTokenCount: number;
  totalTokenCount: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
}

/** The relay's counts as a Gemini client reads them (Gemini CLI shows thoughts and cache apart). */
export function geminiUsageMetadata(usage: TokenUsage): GeminiUsageMetadata {
  const thoughts = usage.reasoningTokens ?? 0;
  const cached = usage.cacheReadTokens ?? 0;
  return {
    promptTokenCount: usage.promptTokens,
    candidatesTokenCount: Math.max(0, usage.completionTokens - thoughts),
    totalTokenCount: usage.promptTokens + usage.completionTokens,
    ...(thoughts > 0 && { thoughtsTokenCount: thoughts }),
    ...(cached > 0 && { cachedContentTokenCount: cached }),
  };
}
