import type { ChatResponse, OutputPart, StopReason, ToolCallPart } from '../../core/chat.ts';
import type { TokenUsage } from '../../core/usage.ts';

/** OpenAI's finish_reason for a neutral stop. */
export function finishReason(
  reason: StopReason | null | undefined,
  hasToolCalls: boolean,
): string | null {
  if (hasToolCalls && (reason === 'tool_use' || reason === 'end_turn' || !reason))
    return 'tool_calls';
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'content_filter':
    case 'refusal':
      return 'content_filter';
    default:
      return null;
  }
}

/** OpenAI's usage object, with the cache and reasoning details it has fields for. */
export function openAiUsage(u: TokenUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
}

export function toolCallJson(p: ToolCallPart, index?: number): Record<string, unknown> {
  return {
    ...(index !== undefined && { index }),
    id: p.id,
    type: 'function',
    function: { name: p.name, arguments: JSON.stringify(p.input) },
  };
}

/**
 * Thinking as OpenAI clients read it: the text as `reasoning_content` (DeepSeek's field, which
 * chat apps show), and the signed blocks as `thinking_blocks` (LiteLLM's), so a client can send
 * them back on its next turn and the upstream that signed them accepts the conversation.
 */
function thinkingFields(parts: readonly OutputPart[]): Record<string, unknown> {
  const thinking = parts.filter((p) => p.type === 'thinking' || p.type === 'redacted_thinking');
  if (thinking.length === 0) return {};
  const text = thinking.map((p) => (p.type === 'thinking' ? p.text : '')).join('');
  return {
    reasoning_content: text,
    thinking_blocks: thinking.map((p) =>
      p.type === 'thinking'
        ? { type: 'thinking', thinking: p.text, ...(p.signature && { signature: p.signature }) }
        : { type: 'redacted_thinking', data: p.data },
    ),
  };
}

/** A neutral answer as a chat.completion object, under the model name the client asked for. */
export function renderChatCompletion(response: ChatResponse, clientModel: string, created: number) {
  const text = response.content
    .filter((p) => p.type === 'text')
    .map((p) => p.text)
    .join('');
  const calls = response.content.filter((p): p is ToolCallPart => p.type === 'tool_call');
  return {
    id: response.id,
    object: 'chat.completion',
    created,
    model: clientModel,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          ...thinkingFields(response.content),
          ...(calls.length > 0 && { tool_calls: calls.map((c) => toolCallJson(c)) }),
        },
        logprobs: null,
        finish_reason: finishReason(response.stopReason, calls.length > 0),
      },
    ],
    ...(response.usage && { usage: openAiUsage(response.usage) }),
  };
}
