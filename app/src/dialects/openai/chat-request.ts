import type {
  ChatMessage,
  ChatRequest,
  Effort,
  ImagePart,
  Part,
  ResponseFormat,
  TextPart,
  ThinkingConfig,
  ToolChoice,
  ToolDef,
} from '../../core/chat.ts';
import { parseToolArguments } from '../../core/arguments.ts';
import { sourceFromUrl } from '../../core/media.ts';
import { invalidRequest } from '../../errors.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

function contentParts(content: unknown, at: string): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const parts: Part[] = [];
  for (const [i, raw] of content.entries()) {
    if (!isObject(raw)) continue;
    const p = raw;
    if (p.type === 'text' && typeof p.text === 'string') {
      if (p.text !== '') parts.push({ type: 'text', text: p.text });
    } else if (p.type === 'image_url') {
      const image = isObject(p.image_url) ? p.image_url : { url: p.image_url };
      const url = str(image.url);
      if (!url) throw invalidRequest(`An image_url part needs a url.`, `${at}.content.${i}`);
      const detail = str(image.detail);
      parts.push({ type: 'image', source: sourceFromUrl(url), ...(detail && { detail }) });
    } else if (p.type === 'file' && isObject(p.file)) {
      const data = str(p.file.file_data);
      if (!data) {
        throw invalidRequest(
          'Only inline files (file_data) can be sent to this model; file ids are not supported.',
          `${at}.content.${i}`,
        );
      }
      const title = str(p.file.filename);
      parts.push({ type: 'document', source: sourceFromUrl(data), ...(title && { title }) });
    } else {
      throw invalidRequest(
        `Content of type '${String(p.type)}' cannot be sent to this model.`,
        `${at}.content.${i}`,
      );
    }
  }
  return parts;
}

function textOnly(parts: Part[]): TextPart[] {
  return parts.filter((p): p is TextPart => p.type === 'text');
}

function assistantParts(m: Json, at: string): Part[] {
  const parts: Part[] = [];
  // LiteLLM's convention for signed thinking (so it can be sent back), then DeepSeek's text.
  if (Array.isArray(m.thinking_blocks)) {
    for (const b of m.thinking_blocks) {
      if (!isObject(b)) continue;
      if (b.type === 'redacted_thinking' && typeof b.data === 'string')
        parts.push({ type: 'redacted_thinking', data: b.data });
      else if (typeof b.thinking === 'string') {
        const signature = str(b.signature);
        parts.push({ type: 'thinking', text: b.thinking, ...(signature && { signature }) });
      }
    }
  } else {
    const reasoning = str(m.reasoning_content) ?? str(m.reasoning);
    if (reasoning) parts.push({ type: 'thinking', text: reasoning });
  }
  parts.push(...contentParts(m.content, at));
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  for (const [i, c] of calls.entries()) {
    const fn = isObject(c) && isObject(c.function) ? c.function : undefined;
    const name = str(fn?.name);
    if (!fn || !name)
      throw invalidRequest('A tool call needs a function name.', `${at}.tool_calls.${i}`);
    const id = str((c as Json).id) || `call_${i}`;
    parts.push({ type: 'tool_call', id, name, input: parseToolArguments(fn.arguments) });
  }
  if (isObject(m.function_call) && typeof m.function_call.name === 'string') {
    const name = m.function_call.name;
    parts.push({
      type: 'tool_call',
      id: name,
      name,
      input: parseToolArguments(m.function_call.arguments),
    });
  }
  return parts;
}

function toolResult(m: Json, at: string): Part {
  const id = str(m.tool_call_id) ?? str(m.name);
  if (!id) throw invalidRequest("A tool message needs a 'tool_call_id'.", `${at}.tool_call_id`);
  const parts = contentParts(m.content, at);
  return {
    type: 'tool_result',
    toolCallId: id,
    content: parts.filter(
      (p): p is TextPart | ImagePart => p.type === 'text' || p.type === 'image',
    ),
  };
}

/** System and developer messages go to the system prompt; tool messages join a user turn. */
function conversation(messages: unknown[]): { system: TextPart[]; messages: ChatMessage[] } {
  const system: TextPart[] = [];
  const out: { role: 'user' | 'assistant'; content: Part[] }[] = [];
  const push = (role: 'user' | 'assistant', parts: Part[]) => {
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...parts);
    else out.push({ role, content: parts });
  };
  for (const [i, raw] of messages.entries()) {
    const at = `messages.${i}`;
    if (!isObject(raw)) throw invalidRequest('Each message must be an object.', at);
    switch (raw.role) {
      case 'system':
      case 'developer':
        system.push(...textOnly(contentParts(raw.content, at)));
        break;
      case 'user':
        push('user', contentParts(raw.content, at));
        break;
      case 'assistant':
        push('assistant', assistantParts(raw, at));
        break;
      case 'tool':
      case 'function':
        push('user', [toolResult(raw, at)]);
        break;
      default:
        throw invalidRequest(`Unknown message role '${String(raw.role)}'.`, `${at}.role`);
    }
  }
  return { system, messages: out };
}

function tools(body: Json): ToolDef[] {
  const list: ToolDef[] = [];
  const add = (fn: unknown) => {
    if (!isObject(fn) || typeof fn.name !== 'string') return;
    const description = str(fn.description);
    list.push({
      name: fn.name,
      ...(description && { description }),
      inputSchema: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
      ...(typeof fn.strict === 'boolean' && { strict: fn.strict }),
    });
  };
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (isObject(t) && t.type === 'function') add(t.function);
    else if (isObject(t))
      throw invalidRequest(
        `Tools of type '${String(t.type)}' cannot be sent to this model.`,
        'tools',
      );
  }
  for (const fn of Array.isArray(body.functions) ? body.functions : []) add(fn);
  return list;
}

function toolChoice(choice: unknown): ToolChoice | undefined {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return { type: choice };
  if (isObject(choice)) {
    const fn = isObject(choice.function) ? choice.function : choice;
    if (typeof fn.name === 'string') return { type: 'tool', name: fn.name };
  }
  return undefined;
}

const EFFORTS = new Set<Effort>(['minimal', 'low', 'medium', 'high', 'xhigh', 'max']);

function thinking(body: Json): ThinkingConfig | undefined {
  const effort =
    str(body.reasoning_effort) ?? str(isObject(body.reasoning) ? body.reasoning.effort : undefined);
  if (effort === 'none') return { enabled: false };
  if (effort && EFFORTS.has(effort as Effort)) return { enabled: true, effort: effort as Effort };
  return undefined;
}

function responseFormat(v: unknown): ResponseFormat | undefined {
  if (!isObject(v)) return undefined;
  if (v.type === 'json_object') return { type: 'json_object' };
  if (v.type === 'json_schema' && isObject(v.json_schema) && isObject(v.json_schema.schema)) {
    const name = str(v.json_schema.name);
    return {
      type: 'json_schema',
      schema: v.json_schema.schema,
      ...(name && { name }),
      ...(typeof v.json_schema.strict === 'boolean' && { strict: v.json_schema.strict }),
    };
  }
  return undefined;
}

/**
 * An OpenAI chat completions body in neutral form, for an upstream of another dialect. Only
 * what has no counterpart anywhere else (logprobs, penalties, seeds) is left behind; content
 * the other side cannot take (audio, file ids, n > 1) is a clear 400 instead of a silent loss.
 */
export function openAiChatToNeutral(body: Json): ChatRequest {
  const n = num(body.n);
  if (n !== undefined && n > 1) {
    throw invalidRequest('n > 1 is only supported by OpenAI-compatible upstreams.', 'n');
  }
  const { system, messages } = conversation(Array.isArray(body.messages) ? body.messages : []);
  const stop =
    typeof body.stop === 'string'
      ? [body.stop]
      : Array.isArray(body.stop)
        ? body.stop.filter((s): s is string => typeof s === 'string')
        : [];
  const maxTokens = num(body.max_completion_tokens) ?? num(body.max_tokens);
  const temperature = num(body.temperature);
  const topP = num(body.top_p);
  const choice = toolChoice(body.tool_choice ?? body.function_call);
  const think = thinking(body);
  const format = responseFormat(body.response_format);
  const user = str(body.user) ?? str(body.safety_identifier);
  return {
    model: String(body.model),
    system,
    messages,
    tools: tools(body),
    stop,
    stream: body.stream === true,
    ...(choice && { toolChoice: choice }),
    ...(typeof body.parallel_tool_calls === 'boolean' && {
      parallelToolCalls: body.parallel_tool_calls,
    }),
    ...(maxTokens !== undefined && { maxTokens }),
    ...(temperature !== undefined && { temperature }),
    ...(topP !== undefined && { topP }),
    ...(think && { thinking: think }),
    ...(format && { responseFormat: format }),
    ...(user && { user }),
  };
}
