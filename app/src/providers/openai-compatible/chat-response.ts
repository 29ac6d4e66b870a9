import type { ChatResponse, OutputPart, StopReason } from '../../core/chat.ts';
import { parseToolArguments } from '../../core/arguments.ts';
import { isObject } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';
import { usageFromPayload } from '../../usage/extract.ts';

/** An OpenAI finish_reason in neutral words. */
export function stopReasonOf(finish: unknown): StopReason | null {
  switch (finish) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'content_filter';
    default:
      return typeof finish === 'string' ? 'end_turn' : null;
  }
}

/** Reasoning as OpenAI-compatible upstreams send it: DeepSeek's reasoning_content, vLLM's reasoning. */
export function reasoningOf(m: Json): string | undefined {
  const r = m.reasoning_content ?? m.reasoning;
  return typeof r === 'string' && r !== '' ? r : undefined;
}

/** A chat.completion answer in neutral form (its first choice: translation serves n = 1). */
export function openAiChatToResponse(json: unknown): ChatResponse | undefined {
  if (!isObject(json) || !Array.isArray(json.choices)) return undefined;
  const choice = json.choices[0];
  if (!isObject(choice) || !isObject(choice.message)) return undefined;
  const m = choice.message;
  const content: OutputPart[] = [];
  const reasoning = reasoningOf(m);
  if (reasoning) content.push({ type: 'thinking', text: reasoning });
  if (typeof m.content === 'string' && m.content !== '')
    content.push({ type: 'text', text: m.content });
  for (const [i, c] of (Array.isArray(m.tool_calls) ? m.tool_calls : []).entries()) {
    if (!isObject(c) || !isObject(c.function) || typeof c.function.name !== 'string') continue;
    content.push({
      type: 'tool_call',
      id: typeof c.id === 'string' && c.id !== '' ? c.id : `call_${i}`,
      name: c.function.name,
      input: parseToolArguments(c.function.arguments),
    });
  }
  const usage = usageFromPayload(json);
  return {
    id: typeof json.id === 'string' ? json.id : 'chatcmpl-relay',
    model: typeof json.model === 'string' ? json.model : '',
    content,
    stopReason: stopReasonOf(choice.finish_reason),
    ...(usage && { usage }),
  };
}
