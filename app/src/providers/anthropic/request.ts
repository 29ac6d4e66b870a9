/**
 * The neutral chat as an Anthropic Messages request body. Anthropic is stricter than the
 * dialects requests come from, so this is where a request that another upstream would take is
 * made into one Anthropic takes too:
 * - roles alternate: consecutive turns of one role merge into one;
 * - a user turn's tool results come first, in one message (Anthropic wants every result for
 *   the previous tool calls right after them), and a second result for one id is dropped;
 * - text that is empty or only whitespace is dropped (Anthropic refuses it), and so is a turn
 *   left with nothing;
 * - tool ids and names are rewritten to what Anthropic accepts (names.ts);
 * - thinking keeps its signature; thinking without one (another provider's reasoning) cannot be
 *   verified by Anthropic and is dropped;
 * - sampling and thinking settings follow what the model accepts (models.ts, thinking.ts);
 * - at most 4 cache marks, the last ones (Anthropic refuses more);
 * - response_format json_schema becomes output_config.format; json_object has no Anthropic
 *   equivalent (structured outputs always take a schema) and is left out.
 */
import type {
  CacheMark,
  ChatMessage,
  ChatRequest,
  DocumentPart,
  ImagePart,
  MediaSource,
  Part,
  TextPart,
  ToolChoice,
  ToolDef,
  ToolResultPart,
} from '../../core/chat.ts';
import { modelTraits } from './models.ts';
import type { ModelTraits } from './models.ts';
import { anthropicToolId, anthropicToolName } from './names.ts';
import { thinkingParams } from './thinking.ts';
import { toolLoopUnsigned, toTurns, trimPrefill } from '../turns.ts';
import type { Block, Turn, TurnShape } from '../turns.ts';

function cacheControl(mark: CacheMark | undefined): Block {
  if (!mark) return {};
  return { cache_control: { type: 'ephemeral', ...(mark.ttl && { ttl: mark.ttl }) } };
}

const hasText = (text: string) => text.trim().length > 0;

function textBlock(part: TextPart): Block | undefined {
  if (!hasText(part.text)) return undefined;
  return { type: 'text', text: part.text, ...cacheControl(part.cache) };
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** OpenAI clients send inline images as data: URLs; Anthropic wants those as base64 sources. */
function imageSource(source: MediaSource): Block {
  if (source.kind === 'base64') {
    return { type: 'base64', media_type: source.mediaType, data: source.data };
  }
  const inline = DATA_URL.exec(source.url);
  if (inline) return { type: 'base64', media_type: inline[1], data: inline[2] };
  return { type: 'url', url: source.url };
}

function imageBlock(part: ImagePart): Block {
  return { type: 'image', source: imageSource(part.source), ...cacheControl(part.cache) };
}

/** Plain text documents travel as text sources; everything else as the PDF-style sources. */
function documentBlock(part: DocumentPart): Block {
  const { source } = part;
  const wire =
    source.kind === 'base64' && source.mediaType.startsWith('text/')
      ? {
          type: 'text',
          media_type: 'text/plain',
          data: Buffer.from(source.data, 'base64').toString('utf8'),
        }
      : imageSource(source);
  return {
    type: 'document',
    source: wire,
    ...(part.title !== undefined && { title: part.title }),
    ...cacheControl(part.cache),
  };
}

function toolResultBlock(part: ToolResultPart): Block {
  const content = part.content
    .map((p) => (p.type === 'text' ? textBlock(p) : imageBlock(p)))
    .filter((b): b is Block => b !== undefined);
  return {
    type: 'tool_result',
    tool_use_id: anthropicToolId(part.toolCallId),
    ...(content.length > 0 && { content }),
    ...(part.isError && { is_error: true }),
    ...cacheControl(part.cache),
  };
}

function partBlock(part: Part): Block | undefined {
  switch (part.type) {
    case 'text':
      return textBlock(part);
    case 'image':
      return imageBlock(part);
    case 'document':
      return documentBlock(part);
    case 'thinking':
      // Kept verbatim with its signature; without one, Anthropic would refuse the request.
      return part.signature
        ? { type: 'thinking', thinking: part.text, signature: part.signature }
        : undefined;
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: part.data };
    case 'tool_call':
      return {
        type: 'tool_use',
        id: anthropicToolId(part.id),
        name: anthropicToolName(part.name),
        input: part.input,
        ...cacheControl(part.cache),
      };
    case 'tool_result':
      return toolResultBlock(part);
  }
}

/** How Anthropic's Messages blocks are told apart (providers/turns.ts). */
const MESSAGES_SHAPE: TurnShape = {
  isToolResult: (b) => b.type === 'tool_result',
  isToolCall: (b) => b.type === 'tool_use',
  isSignedReasoning: (b) => b.type === 'thinking' || b.type === 'redacted_thinking',
};

export function toMessages(messages: readonly ChatMessage[]): Turn[] {
  const turns = toTurns(messages, MESSAGES_SHAPE, (part) => {
    const block = partBlock(part);
    return block ? [block] : [];
  });
  trimPrefill(turns);
  return turns;
}

/** Anthropic wants an object schema; a tool without parameters gets an empty one. */
function inputSchema(schema: Record<string, unknown>): Record<string, unknown> {
  return schema.type === undefined ? { type: 'object', properties: {}, ...schema } : schema;
}

function toolBlock(tool: ToolDef): Block {
  return {
    name: anthropicToolName(tool.name),
    ...(tool.description !== undefined && { description: tool.description }),
    input_schema: inputSchema(tool.inputSchema),
    ...(tool.strict !== undefined && { strict: tool.strict }),
    ...cacheControl(tool.cache),
  };
}

function toolChoiceBlock(
  choice: ToolChoice | undefined,
  parallel: boolean | undefined,
): Block | undefined {
  const serial = parallel === false ? { disable_parallel_tool_use: true } : {};
  switch (choice?.type) {
    case undefined:
      return parallel === false ? { type: 'auto', ...serial } : undefined;
    case 'auto':
      return { type: 'auto', ...serial };
    case 'required':
      return { type: 'any', ...serial };
    case 'tool':
      return { type: 'tool', name: anthropicToolName(choice.name), ...serial };
    case 'none':
      return { type: 'none' };
  }
}

/**
 * temperature/top_p/top_k as the model takes them: none on models that refuse them; with
 * thinking on, no temperature or top_k and top_p only from 0.95 (Anthropic refuses the rest);
 * temperature within Anthropic's 0–1 (OpenAI's goes to 2).
 */
export function sampling(chat: ChatRequest, traits: ModelTraits, thinking: boolean): Block {
  if (traits.refusesSampling) return {};
  const out: Block = {};
  if (chat.temperature !== undefined && !thinking)
    out.temperature = Math.min(1, Math.max(0, chat.temperature));
  if (chat.topP !== undefined && (!thinking || chat.topP >= 0.95)) out.top_p = chat.topP;
  if (chat.topK !== undefined && !thinking) out.top_k = Math.round(chat.topK);
  return out;
}

/** Whitespace-only stop sequences are refused by Anthropic. */
const stopSequences = (stop: readonly string[]) => stop.filter(hasText);

/** Anthropic refuses a request with more than this many cache_control marks. */
export const MAX_CACHE_MARKS = 4;

/**
 * Keeps the last MAX_CACHE_MARKS marks in prompt order (tools, system, messages; a tool
 * result's own blocks before the result). The last breakpoints cache the longest prefix, so
 * they are the ones worth keeping when a client of another dialect marks more.
 */
function limitCacheMarks(tools: Block[], system: Block[], turns: Turn[]): void {
  const inOrder: Block[] = [...tools, ...system];
  for (const turn of turns) {
    for (const block of turn.content) {
      if (Array.isArray(block.content)) inOrder.push(...(block.content as Block[]));
      inOrder.push(block);
    }
  }
  const marked = inOrder.filter((b) => b.cache_control !== undefined);
  for (const block of marked.slice(0, -MAX_CACHE_MARKS)) delete block.cache_control;
}

export function toMessagesRequest(
  chat: ChatRequest,
  defaultMaxTokens: number,
): Record<string, unknown> {
  const traits = modelTraits(chat.model);
  const messages = toMessages(chat.messages);
  const tools = chat.tools.map(toolBlock);
  const toolChoice =
    tools.length > 0 ? toolChoiceBlock(chat.toolChoice, chat.parallelToolCalls) : undefined;
  const forced = toolChoice?.type === 'any' || toolChoice?.type === 'tool';
  const thinking = toolLoopUnsigned(messages, MESSAGES_SHAPE) ? undefined : chat.thinking;
  const think = thinkingParams(thinking, traits, chat.maxTokens ?? defaultMaxTokens, forced);
  const system = chat.system.map(textBlock).filter((b): b is Block => b !== undefined);
  const stop = stopSequences(chat.stop);
  const format =
    chat.responseFormat?.type === 'json_schema'
      ? { type: 'json_schema', schema: chat.responseFormat.schema }
      : undefined;
  const thinkingOn = think.thinking !== undefined && think.thinking.type !== 'disabled';
  limitCacheMarks(tools, system, messages);
  return {
    model: chat.model,
    max_tokens: think.maxTokens,
    ...(system.length > 0 && { system }),
    messages,
    ...(tools.length > 0 && { tools }),
    ...(toolChoice && { tool_choice: toolChoice }),
    ...(stop.length > 0 && { stop_sequences: stop }),
    ...sampling(chat, traits, thinkingOn),
    ...(think.thinking && { thinking: think.thinking }),
    ...((think.effort || format) && {
      output_config: { ...(think.effort && { effort: think.effort }), ...(format && { format }) },
    }),
    ...(chat.user !== undefined && { metadata: { user_id: chat.user } }),
    ...(chat.stream && { stream: true }),
  };
}
