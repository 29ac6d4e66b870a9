import type { ChatMessage, ChatRequest, Part, TextPart, ThinkingConfig } from '../../core/chat.ts';
import { urlFromSource } from '../../core/media.ts';

type Json = Record<string, unknown>;

function userContent(parts: readonly Part[]): Json[] {
  const out: Json[] = [];
  for (const p of parts) {
    if (p.type === 'text' && p.text !== '') out.push({ type: 'text', text: p.text });
    else if (p.type === 'image')
      out.push({
        type: 'image_url',
        image_url: { url: urlFromSource(p.source), ...(p.detail && { detail: p.detail }) },
      });
    else if (p.type === 'document')
      out.push({
        type: 'file',
        file: { file_data: urlFromSource(p.source), ...(p.title && { filename: p.title }) },
      });
  }
  return out;
}

/** A user turn: its tool results first, as `tool` messages, then whatever the user said. */
function userMessages(m: ChatMessage): Json[] {
  const out: Json[] = [];
  const images: Part[] = [];
  for (const p of m.content) {
    if (p.type !== 'tool_result') continue;
    const text = p.content
      .filter((c): c is TextPart => c.type === 'text')
      .map((c) => c.text)
      .join('\n');
    // A tool message holds text only; the images a tool returned follow as user content.
    images.push(...p.content.filter((c) => c.type === 'image'));
    out.push({
      role: 'tool',
      tool_call_id: p.toolCallId,
      content: p.isError && text === '' ? 'error' : text,
    });
  }
  const content = userContent([...images, ...m.content.filter((p) => p.type !== 'tool_result')]);
  if (content.length > 0) {
    const only = content.length === 1 ? content[0] : undefined;
    out.push({ role: 'user', content: only?.type === 'text' ? only.text : content });
  }
  return out;
}

/**
 * An assistant turn. Its thinking goes along as `reasoning_content` only when asked for (the
 * turns of the tool loop still under way: interleaved-thinking upstreams need them, and
 * earlier turns' reasoning is noise that some upstreams refuse).
 */
function assistantMessage(m: ChatMessage, withReasoning: boolean): Json | undefined {
  const text = m.content
    .filter((p) => p.type === 'text')
    .map((p) => p.text)
    .join('');
  const calls = m.content.flatMap((p) =>
    p.type === 'tool_call'
      ? [
          {
            id: p.id,
            type: 'function',
            function: { name: p.name, arguments: JSON.stringify(p.input) },
          },
        ]
      : [],
  );
  const reasoning = withReasoning
    ? m.content.map((p) => (p.type === 'thinking' ? p.text : '')).join('')
    : '';
  if (text === '' && calls.length === 0 && reasoning === '') return undefined;
  return {
    role: 'assistant',
    content: text === '' && calls.length > 0 ? null : text,
    ...(reasoning && { reasoning_content: reasoning }),
    ...(calls.length > 0 && { tool_calls: calls }),
  };
}

/** OpenAI's reasoning models take only max_completion_tokens; everyone else knows max_tokens. */
const COMPLETION_TOKENS_MODELS = /^(o\d|gpt-5)/;

/**
 * Only an effort the client named is sent: a thinking budget alone says nothing an
 * OpenAI-compatible upstream understands, and non-reasoning models refuse reasoning_effort.
 */
function reasoningEffort(t: ThinkingConfig | undefined): Json {
  if (!t) return {};
  if (!t.enabled) return {};
  if (!t.effort) return {};
  const effort = t.effort === 'xhigh' || t.effort === 'max' ? 'high' : t.effort;
  return { reasoning_effort: effort };
}

/** The neutral request as an OpenAI chat completions body. */
export function neutralToOpenAiChat(chat: ChatRequest): Json {
  const messages: Json[] = [];
  if (chat.system.length > 0) {
    messages.push({ role: 'system', content: chat.system.map((p) => p.text).join('\n\n') });
  }
  const lastUser = chat.messages.findLastIndex(
    (m) => m.role === 'user' && m.content.some((p) => p.type !== 'tool_result'),
  );
  chat.messages.forEach((m, i) => {
    if (m.role === 'user') messages.push(...userMessages(m));
    else {
      const msg = assistantMessage(m, i > lastUser);
      if (msg) messages.push(msg);
    }
  });
  const body: Json = { model: chat.model, messages };
  if (chat.tools.length > 0) {
    body.tools = chat.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description && { description: t.description }),
        parameters: t.inputSchema,
        ...(t.strict !== undefined && { strict: t.strict }),
      },
    }));
  }
  if (chat.toolChoice) {
    const c = chat.toolChoice;
    body.tool_choice =
      c.type === 'tool' ? { type: 'function', function: { name: c.name } } : c.type;
  }
  if (chat.parallelToolCalls !== undefined && chat.tools.length > 0)
    body.parallel_tool_calls = chat.parallelToolCalls;
  if (chat.maxTokens !== undefined) {
    body[COMPLETION_TOKENS_MODELS.test(chat.model) ? 'max_completion_tokens' : 'max_tokens'] =
      chat.maxTokens;
  }
  if (chat.temperature !== undefined) body.temperature = chat.temperature;
  if (chat.topP !== undefined) body.top_p = chat.topP;
  if (chat.stop.length > 0) body.stop = [...chat.stop];
  Object.assign(body, reasoningEffort(chat.thinking));
  if (chat.responseFormat) {
    const f = chat.responseFormat;
    body.response_format =
      f.type === 'json_object'
        ? f
        : {
            type: 'json_schema',
            json_schema: {
              name: f.name ?? 'response',
              schema: f.schema,
              ...(f.strict !== undefined && { strict: f.strict }),
            },
          };
  }
  if (chat.user) body.user = chat.user;
  if (chat.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}
