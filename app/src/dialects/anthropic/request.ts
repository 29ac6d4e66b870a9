/**
 * An Anthropic Messages request: checked for what the relay relies on (everything else passes
 * through to Anthropic channels untouched), and read into the neutral chat for channels of
 * other dialects.
 *
 * Anthropic features with no neutral equivalent — server tools (web_search, code_execution…),
 * Anthropic-defined client tools (bash, text_editor, computer, memory), file ids, search
 * results, server tool blocks in the history — are left out of the translation and named in
 * `dropped`, rather than refused: routing decides the channel after parsing, the same request
 * passes through whole to an Anthropic channel, and an agent that mixes its own tools with a
 * server tool keeps working elsewhere without the server tool (the model never sees it, so it
 * never calls it). The caller can log or surface `dropped`.
 */
import { z } from 'zod';
import type {
  CacheMark,
  ChatMessage,
  ChatRequest,
  Effort,
  ImagePart,
  MediaSource,
  Part,
  TextPart,
  ThinkingConfig,
  ToolChoice,
  ToolDef,
} from '../../core/chat.ts';
import { isObject, str } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';
import { invalidRequest } from '../../errors.ts';
import type { RelayError } from '../../errors.ts';

const block = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(block)]);
const message = z.looseObject({ role: z.enum(['user', 'assistant', 'system']), content });
const system = z.union([
  z.string(),
  z.array(z.looseObject({ type: z.literal('text'), text: z.string() })),
]);

/** `/v1/messages`: max_tokens 0 is valid (it only warms the prompt cache). */
export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().nonnegative(),
  messages: z.array(message),
  stream: z.boolean().optional(),
  system: system.optional(),
});

/** `/v1/messages/count_tokens`: the same request without max_tokens or stream. */
export const countTokensRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message),
  system: system.optional(),
});

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;

type Issue = z.core.$ZodIssue;

/**
 * The issue to report: for a value that fits no branch of a union (content as a string or
 * blocks), the branch it came closest to, so the message names the field inside it.
 */
function deepest(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const inner = issue.errors
    .map((branch) => branch[0])
    .filter((i): i is Issue => i !== undefined)
    .map(deepest)
    .sort((a, b) => b.path.length - a.path.length)[0];
  return inner && inner.path.length > 0
    ? { path: [...issue.path, ...inner.path], message: inner.message }
    : issue;
}

/** A clear 400 naming the first thing wrong, in the field's own path (messages.0.role). */
function badRequest(error: z.ZodError): RelayError {
  const issue = error.issues[0];
  const { path, message } = issue ? deepest(issue) : { path: [], message: 'invalid request' };
  const name = path.map(String).join('.');
  return invalidRequest(`${name ? `${name}: ` : ''}${message}`, name || null);
}

export function parseMessagesRequest(body: unknown): MessagesRequest {
  const parsed = messagesRequestSchema.safeParse(body);
  if (!parsed.success) throw badRequest(parsed.error);
  return parsed.data;
}

export function parseCountTokensRequest(body: unknown): CountTokensRequest {
  const parsed = countTokensRequestSchema.safeParse(body);
  if (!parsed.success) throw badRequest(parsed.error);
  return parsed.data;
}

/** Reads one request; `dropped` collects what the neutral chat cannot say. */
class Reader {
  readonly dropped = new Set<string>();

  cache(block: Json): { cache?: CacheMark } {
    const cc = block.cache_control;
    if (!isObject(cc) || cc.type !== 'ephemeral') return {};
    return { cache: cc.ttl === '5m' || cc.ttl === '1h' ? { ttl: cc.ttl } : {} };
  }

  text(block: Json): TextPart {
    return { type: 'text', text: str(block.text), ...this.cache(block) };
  }

  media(source: unknown, what: string): MediaSource | undefined {
    if (isObject(source)) {
      if (source.type === 'base64')
        return { kind: 'base64', mediaType: str(source.media_type), data: str(source.data) };
      if (source.type === 'url') return { kind: 'url', url: str(source.url) };
      // Plain text and custom-content documents become a text file, their text kept whole.
      if (source.type === 'text') return textFile(str(source.data));
      if (source.type === 'content') return textFile(contentText(source.content));
    }
    this.dropped.add(`${what} source ${isObject(source) ? str(source.type) : '?'}`);
    return undefined;
  }

  image(block: Json): ImagePart | undefined {
    const source = this.media(block.source, 'image');
    return source && { type: 'image', source, ...this.cache(block) };
  }

  part(block: Json): Part | undefined {
    switch (block.type) {
      case 'text':
        return this.text(block);
      case 'image':
        return this.image(block);
      case 'document': {
        const source = this.media(block.source, 'document');
        const title = typeof block.title === 'string' ? { title: block.title } : {};
        return source && { type: 'document', source, ...title, ...this.cache(block) };
      }
      case 'thinking':
        return {
          type: 'thinking',
          text: str(block.thinking),
          ...(str(block.signature) && { signature: str(block.signature) }),
        };
      case 'redacted_thinking':
        return { type: 'redacted_thinking', data: str(block.data) };
      case 'tool_use':
        return {
          type: 'tool_call',
          id: str(block.id),
          name: str(block.name),
          input: isObject(block.input) ? block.input : {},
          ...this.cache(block),
        };
      case 'tool_result':
        return {
          type: 'tool_result',
          toolCallId: str(block.tool_use_id),
          content: this.resultContent(block.content),
          ...(block.is_error === true && { isError: true }),
          ...this.cache(block),
        };
      default:
        this.dropped.add(`${str(block.type)} block`);
        return undefined;
    }
  }

  resultContent(content: unknown): (TextPart | ImagePart)[] {
    if (typeof content === 'string') return [{ type: 'text', text: content }];
    if (!Array.isArray(content)) return [];
    const out: (TextPart | ImagePart)[] = [];
    for (const item of content) {
      if (!isObject(item)) continue;
      const part =
        item.type === 'text'
          ? this.text(item)
          : item.type === 'image'
            ? this.image(item)
            : undefined;
      if (part) out.push(part);
      else if (item.type !== 'image') this.dropped.add(`${str(item.type)} in tool_result`);
    }
    return out;
  }

  parts(content: string | Json[]): Part[] {
    if (typeof content === 'string') return [{ type: 'text', text: content }];
    return content.map((b) => this.part(b)).filter((p): p is Part => p !== undefined);
  }

  tool(tool: Json): ToolDef | undefined {
    // Custom tools have no type (or "custom"); every typed tool is Anthropic's own.
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      this.dropped.add(`tool ${str(tool.type)}`);
      return undefined;
    }
    return {
      name: str(tool.name),
      ...(typeof tool.description === 'string' && { description: tool.description }),
      inputSchema: isObject(tool.input_schema) ? tool.input_schema : { type: 'object' },
      ...(typeof tool.strict === 'boolean' && { strict: tool.strict }),
      ...this.cache(tool),
    };
  }
}

const textFile = (text: string): MediaSource => ({
  kind: 'base64',
  mediaType: 'text/plain',
  data: Buffer.from(text, 'utf8').toString('base64'),
});

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b): b is Json => isObject(b) && b.type === 'text')
    .map((b) => str(b.text))
    .join('\n\n');
}

function toolChoice(choice: unknown, tools: readonly ToolDef[]): ToolChoice | undefined {
  if (!isObject(choice)) return undefined;
  switch (choice.type) {
    case 'auto':
      return { type: 'auto' };
    case 'any':
      return { type: 'required' };
    case 'none':
      return { type: 'none' };
    case 'tool':
      // Forcing a tool the translation left out would force a call to nothing.
      return tools.some((t) => t.name === choice.name)
        ? { type: 'tool', name: str(choice.name) }
        : undefined;
    default:
      return undefined;
  }
}

const EFFORTS: readonly Effort[] = ['minimal', 'low', 'medium', 'high', 'xhigh', 'max'];

function thinking(body: Json): ThinkingConfig | undefined {
  const config = isObject(body.thinking) ? body.thinking : undefined;
  const outputConfig = isObject(body.output_config) ? body.output_config : {};
  const effort = EFFORTS.find((e) => e === outputConfig.effort);
  if (!config && !effort) return undefined;
  const budget =
    typeof config?.budget_tokens === 'number' ? { budgetTokens: config.budget_tokens } : {};
  return { enabled: config?.type !== 'disabled', ...budget, ...(effort && { effort }) };
}

function responseFormat(body: Json): ChatRequest['responseFormat'] {
  const format = isObject(body.output_config) ? body.output_config.format : undefined;
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema))
    return undefined;
  return { type: 'json_schema', schema: format.schema };
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

export interface ChatTranslation {
  readonly chat: ChatRequest;
  /** Features of the request the neutral chat cannot carry (empty when nothing was left out). */
  readonly dropped: readonly string[];
}

export function readChatRequest(body: MessagesRequest): ChatTranslation {
  const reader = new Reader();
  const systemParts: TextPart[] =
    typeof body.system === 'string'
      ? [{ type: 'text', text: body.system }]
      : (body.system ?? []).map((b) => reader.text(b));
  const messages: ChatMessage[] = [];
  for (const m of body.messages) {
    const parts = reader.parts(m.content);
    // A system turn inside messages joins the system prompt (the neutral chat has one place for it).
    if (m.role === 'system')
      systemParts.push(...parts.filter((p): p is TextPart => p.type === 'text'));
    else messages.push({ role: m.role, content: parts });
  }
  const tools = (Array.isArray(body.tools) ? body.tools : [])
    .filter(isObject)
    .map((t) => reader.tool(t))
    .filter((t): t is ToolDef => t !== undefined);
  const choice = isObject(body.tool_choice) ? body.tool_choice : undefined;
  const chosen = toolChoice(choice, tools);
  const think = thinking(body);
  const format = responseFormat(body);
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const chat: ChatRequest = {
    model: body.model,
    system: systemParts,
    messages,
    tools,
    ...(chosen && { toolChoice: chosen }),
    ...(choice?.disable_parallel_tool_use === true && { parallelToolCalls: false }),
    maxTokens: body.max_tokens,
    ...(num(body.temperature) !== undefined && { temperature: num(body.temperature) }),
    ...(num(body.top_p) !== undefined && { topP: num(body.top_p) }),
    ...(num(body.top_k) !== undefined && { topK: num(body.top_k) }),
    stop: Array.isArray(body.stop_sequences)
      ? body.stop_sequences.filter((s) => typeof s === 'string')
      : [],
    stream: body.stream === true,
    ...(think && { thinking: think }),
    ...(format && { responseFormat: format }),
    ...(typeof metadata.user_id === 'string' && { user: metadata.user_id }),
  };
  return { chat, dropped: [...reader.dropped] };
}

/** The neutral chat of a Messages request (see readChatRequest for what is left out). */
export function toChatRequest(body: MessagesRequest): ChatRequest {
  return readChatRequest(body).chat;
}
