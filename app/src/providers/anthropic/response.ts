/**
 * An Anthropic message (a whole JSON answer) as the neutral answer. Blocks with no neutral
 * equivalent (server tool calls and their results, container uploads) are left out: a client
 * of another dialect could not send them back anyway.
 */
import type { ChatResponse, OutputPart, StopReason } from '../../core/chat.ts';
import { isObject, str } from '../../core/json.ts';
import type { ToolNameMap } from './names.ts';
import { readAnthropicUsage } from './usage.ts';

const STOP_REASONS: Readonly<Record<string, StopReason>> = {
  end_turn: 'end_turn',
  max_tokens: 'max_tokens',
  stop_sequence: 'stop_sequence',
  tool_use: 'tool_use',
  pause_turn: 'pause_turn',
  refusal: 'refusal',
  model_context_window_exceeded: 'context_window_exceeded',
};

export function neutralStopReason(reason: unknown): StopReason | null {
  return typeof reason === 'string' ? (STOP_REASONS[reason] ?? null) : null;
}

export function outputPart(block: unknown, names: ToolNameMap): OutputPart | undefined {
  if (!isObject(block)) return undefined;
  switch (block.type) {
    case 'text':
      return { type: 'text', text: str(block.text) };
    case 'thinking':
      return {
        type: 'thinking',
        text: str(block.thinking),
        ...(typeof block.signature === 'string' && { signature: block.signature }),
      };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: str(block.data) };
    case 'tool_use':
      return {
        type: 'tool_call',
        id: str(block.id),
        name: names.fromUpstream(str(block.name)),
        input: isObject(block.input) ? block.input : {},
      };
    default:
      return undefined;
  }
}

/** Undefined when the body is not a message (the caller reports it as malformed). */
export function fromMessage(json: unknown, names: ToolNameMap): ChatResponse | undefined {
  if (!isObject(json) || json.type !== 'message' || !Array.isArray(json.content)) return undefined;
  const content = json.content
    .map((block) => outputPart(block, names))
    .filter((p): p is OutputPart => p !== undefined);
  const usage = readAnthropicUsage(json.usage);
  return {
    id: str(json.id),
    model: str(json.model),
    content,
    stopReason: neutralStopReason(json.stop_reason),
    stopSequence: typeof json.stop_sequence === 'string' ? json.stop_sequence : null,
    ...(usage && { usage }),
  };
}
