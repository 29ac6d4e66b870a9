/**
 * Converse's answer in neutral words: its content blocks, stop reason and usage. Converse
 * reports cache reads and writes beside `inputTokens` (not inside it), as Anthropic does;
 * TokenUsage.promptTokens is their sum. Bedrock writes cache entries with a 5-minute lifetime.
 */
import { randomUUID } from 'node:crypto';
import type { ChatResponse, OutputPart, StopReason } from '../../core/chat.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { isObject, str } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

export function readConverseUsage(usage: unknown): TokenUsage | undefined {
  if (!isObject(usage)) return undefined;
  if (usage.inputTokens === undefined && usage.outputTokens === undefined) return undefined;
  const read = num(usage.cacheReadInputTokens);
  const write = num(usage.cacheWriteInputTokens);
  return {
    promptTokens: num(usage.inputTokens) + read + write,
    completionTokens: num(usage.outputTokens),
    ...(read > 0 && { cacheReadTokens: read }),
    ...(write > 0 && { cacheWrite5mTokens: write }),
  };
}

const STOP_REASONS: Readonly<Record<string, StopReason>> = {
  end_turn: 'end_turn',
  tool_use: 'tool_use',
  max_tokens: 'max_tokens',
  stop_sequence: 'stop_sequence',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
  model_context_window_exceeded: 'context_window_exceeded',
};

export const neutralStop = (reason: unknown): StopReason | null =>
  typeof reason === 'string' ? (STOP_REASONS[reason] ?? 'end_turn') : null;

/** Converse answers carry no id; the neutral answer needs one for the client's dialect. */
export const converseId = (): string => `msg_bdrk_${randomUUID().replaceAll('-', '')}`;

function outputPart(block: Json): OutputPart | undefined {
  if (typeof block.text === 'string') return { type: 'text', text: block.text };
  if (isObject(block.toolUse)) {
    const use = block.toolUse;
    return {
      type: 'tool_call',
      id: str(use.toolUseId),
      name: str(use.name),
      input: isObject(use.input) ? use.input : {},
    };
  }
  if (isObject(block.reasoningContent)) {
    const r = block.reasoningContent;
    if (typeof r.redactedContent === 'string')
      return { type: 'redacted_thinking', data: r.redactedContent };
    if (isObject(r.reasoningText))
      return {
        type: 'thinking',
        text: str(r.reasoningText.text),
        ...(typeof r.reasoningText.signature === 'string' && {
          signature: r.reasoningText.signature,
        }),
      };
  }
  return undefined;
}

/** A Converse JSON answer, or undefined when it is not one. */
export function fromConverse(body: Json, model: string): ChatResponse | undefined {
  const message = isObject(body.output) ? body.output.message : undefined;
  if (!isObject(message) || !Array.isArray(message.content)) return undefined;
  const content = message.content
    .filter(isObject)
    .map(outputPart)
    .filter((p): p is OutputPart => p !== undefined);
  const usage = readConverseUsage(body.usage);
  return {
    id: converseId(),
    model,
    content,
    stopReason: neutralStop(body.stopReason),
    ...(usage && { usage }),
  };
}
