/**
 * A neutral answer (from an upstream of another dialect) as an Anthropic Messages JSON body.
 */
import { randomUUID } from 'node:crypto';
import type { ChatResponse, OutputPart, StopReason } from '../../core/chat.ts';
import { anthropicUsage } from './usage.ts';
import type { AnthropicUsage } from './usage.ts';

export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

/** The reason in Anthropic's words; other dialects' safety stops are Anthropic's refusals. */
export function anthropicStopReason(
  reason: StopReason | null | undefined,
  calledTools: boolean,
): AnthropicStopReason {
  // Clients run tools only on tool_use: an upstream that called tools but said "stop"
  // (some OpenAI-compatible ones do) would leave an agent waiting forever.
  if (calledTools && (reason === 'end_turn' || reason == null)) return 'tool_use';
  switch (reason) {
    case 'content_filter':
      return 'refusal';
    case 'context_window_exceeded':
      return 'model_context_window_exceeded';
    case null:
    case undefined:
      return 'end_turn';
    default:
      return reason;
  }
}

/** Anthropic ids start with msg_; an upstream's own id is kept after the prefix. */
export function messageId(id: string | undefined): string {
  if (!id) return `msg_${randomUUID().replace(/-/g, '')}`;
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

export type AnthropicBlock = Record<string, unknown>;

/** Undefined for a block Anthropic would not send: an empty text block. */
export function anthropicBlock(part: OutputPart): AnthropicBlock | undefined {
  switch (part.type) {
    case 'text':
      return part.text.length > 0 ? { type: 'text', text: part.text } : undefined;
    case 'thinking':
      return { type: 'thinking', thinking: part.text, signature: part.signature ?? '' };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: part.data };
    case 'tool_call':
      return { type: 'tool_use', id: part.id, name: part.name, input: part.input };
  }
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicBlock[];
  stop_reason: AnthropicStopReason;
  stop_sequence: string | null;
  stop_details: null;
  usage: AnthropicUsage;
}

export function renderMessage(response: ChatResponse, clientModel: string): AnthropicMessage {
  const content = response.content
    .map(anthropicBlock)
    .filter((b): b is AnthropicBlock => b !== undefined);
  const calledTools = response.content.some((p) => p.type === 'tool_call');
  return {
    id: messageId(response.id),
    type: 'message',
    role: 'assistant',
    model: clientModel,
    content,
    stop_reason: anthropicStopReason(response.stopReason, calledTools),
    stop_sequence: response.stopSequence ?? null,
    stop_details: null,
    usage: anthropicUsage(response.usage ?? { promptTokens: 0, completionTokens: 0 }),
  };
}
