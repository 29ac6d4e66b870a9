/**
 * The neutral chat as a Bedrock Converse request (the JSON the SDK's ConverseCommand takes,
 * `modelId` aside). Converse is stricter than the dialects requests come from; what peers hit:
 * - the first turn must be the user's and roles must alternate: turns of one role merge, and
 *   a leading assistant turn (a prefilled history) gets a user turn before it;
 * - every tool result answering one assistant turn sits in the one user turn after it, first;
 * - blank text blocks are refused: dropped, and a turn left empty with them;
 * - a history with toolUse or toolResult blocks needs `toolConfig`, even when the client sends
 *   no tools any more: the tools the history names are declared with an open schema;
 * - cache marks become `cachePoint` blocks after the marked block (at most 4, the last ones),
 *   only where the model takes them (models.ts `cachePointFields`);
 * - bytes travel as base64 in this JSON (the transport makes them bytes) and URL images as
 *   `{source: {url}}`, which the transport downloads before sending;
 * - Claude's thinking and sampling settings follow what its generation takes (claude.ts).
 */
import type {
  ChatMessage,
  ChatRequest,
  DocumentPart,
  ImagePart,
  Part,
  TextPart,
  ToolChoice,
  ToolDef,
} from '../../core/chat.ts';
import { badRequest } from './request-error.ts';
import { claudeSettings } from './claude.ts';
import { cachePointFields, isClaudeOnBedrock } from './models.ts';
import { toTurns, trimPrefill } from '../turns.ts';
import type { Block, Turn } from '../turns.ts';
import { CONVERSE_SHAPE } from './converse-shape.ts';

const MAX_CACHE_POINTS = 4;
const CACHE_POINT: Block = Object.freeze({ cachePoint: { type: 'default' } });

/** What a turn says when the history starts with the assistant: Converse wants a user first. */
export const LEADING_USER_TEXT = '(continue)';

const IMAGE_FORMATS: Readonly<Record<string, string>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

const DOCUMENT_FORMATS: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf',
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/html': 'html',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
};

const isBlank = (text: string) => text.trim().length === 0;

function imageBlock(part: ImagePart): Block {
  if (part.source.kind === 'url') return { image: { source: { url: part.source.url } } };
  const format = IMAGE_FORMATS[part.source.mediaType];
  if (!format)
    throw badRequest(
      `image type ${part.source.mediaType} is not one Bedrock takes (png, jpeg, gif, webp)`,
    );
  return { image: { format, source: { bytes: part.source.data } } };
}

/** Converse document names allow letters, digits, spaces, hyphens, parentheses and brackets. */
function documentName(title: string | undefined, index: number): string {
  const name = (title ?? '')
    .replace(/[^A-Za-z0-9\s\-()[\]]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return (name || `document ${index + 1}`).slice(0, 200);
}

function documentBlock(part: DocumentPart, index: number): Block {
  if (part.source.kind === 'url')
    throw badRequest('documents must be sent inline (base64) to a Bedrock channel, not as a URL');
  const format = DOCUMENT_FORMATS[part.source.mediaType];
  if (!format) throw badRequest(`document type ${part.source.mediaType} is not one Bedrock takes`);
  return {
    document: {
      format,
      name: documentName(part.title, index),
      source: { bytes: part.source.data },
    },
  };
}

function resultContent(content: readonly (TextPart | ImagePart)[]): Block[] {
  const out: Block[] = [];
  for (const part of content) {
    if (part.type === 'image') out.push(imageBlock(part));
    else if (!isBlank(part.text)) out.push({ text: part.text });
  }
  // A result with nothing to say still answers its call; Converse refuses an empty one.
  return out.length > 0 ? out : [{ text: '(no output)' }];
}

/** One neutral part as Converse blocks: the block, then its cache point. */
function blocksOf(part: Part, docIndex: () => number): Block[] {
  let block: Block | undefined;
  switch (part.type) {
    case 'text':
      block = isBlank(part.text) ? undefined : { text: part.text };
      break;
    case 'image':
      block = imageBlock(part);
      break;
    case 'document':
      block = documentBlock(part, docIndex());
      break;
    case 'thinking':
      // Unsigned reasoning (another provider's) cannot be verified by Bedrock: left out.
      block = part.signature
        ? { reasoningContent: { reasoningText: { text: part.text, signature: part.signature } } }
        : undefined;
      break;
    case 'redacted_thinking':
      block = { reasoningContent: { redactedContent: part.data } };
      break;
    case 'tool_call':
      block = { toolUse: { toolUseId: part.id, name: part.name, input: part.input } };
      break;
    case 'tool_result':
      block = {
        toolResult: {
          toolUseId: part.toolCallId,
          content: resultContent(part.content),
          ...(part.isError && { status: 'error' }),
        },
      };
      break;
  }
  if (!block) return [];
  return 'cache' in part && part.cache ? [block, { ...CACHE_POINT }] : [block];
}

export function toConverseMessages(messages: readonly ChatMessage[]): Turn[] {
  let docs = 0;
  const docIndex = () => docs++;
  const turns = toTurns(messages, CONVERSE_SHAPE, (part) => blocksOf(part, docIndex));
  if (turns[0]?.role === 'assistant')
    turns.unshift({ role: 'user', content: [{ text: LEADING_USER_TEXT }] });
  trimPrefill(turns);
  if (turns.length === 0) throw badRequest('the request has no message with content');
  return turns;
}

function dropCachePoints(list: Block[]): void {
  for (let i = list.length - 1; i >= 0; i--) if ('cachePoint' in list[i]!) list.splice(i, 1);
}

/** Keeps the last MAX_CACHE_POINTS cache points in prompt order (tools, system, messages). */
function limitCachePoints(lists: Block[][]): void {
  const points: [Block[], Block][] = [];
  for (const list of lists) for (const b of list) if ('cachePoint' in b) points.push([list, b]);
  for (const [list, block] of points.slice(0, -MAX_CACHE_POINTS))
    list.splice(list.indexOf(block), 1);
}

function toolSpec(tool: ToolDef): Block[] {
  const spec: Block = {
    toolSpec: {
      name: tool.name,
      ...(tool.description && { description: tool.description }),
      inputSchema: { json: tool.inputSchema },
    },
  };
  return tool.cache ? [spec, { ...CACHE_POINT }] : [spec];
}

/** Tools the history names but the request no longer declares (Converse wants every one). */
function historyTools(turns: readonly Turn[], declared: ReadonlySet<string>): ToolDef[] {
  const names = new Set<string>();
  let hasResults = false;
  for (const turn of turns)
    for (const b of turn.content) {
      const use = b.toolUse as { name?: string } | undefined;
      if (use?.name && !declared.has(use.name)) names.add(use.name);
      if ('toolResult' in b) hasResults = true;
    }
  // Results alone still need a toolConfig; a placeholder tool carries it.
  if (names.size === 0 && hasResults && declared.size === 0) names.add('tool');
  return [...names].map((name) => ({ name, inputSchema: { type: 'object' } }));
}

function toolChoiceBlock(choice: ToolChoice | undefined): Block | undefined {
  switch (choice?.type) {
    case 'required':
      return { any: {} };
    case 'tool':
      return { tool: { name: choice.name } };
    case 'auto':
      return { auto: {} };
    default:
      // Converse has no "none": the tools stay declared for the history, the model decides.
      return undefined;
  }
}

export interface ConverseRequest {
  readonly modelId: string;
  readonly body: Record<string, unknown>;
  /** What the request asked for that Converse cannot say (logged for the operator). */
  readonly dropped: readonly string[];
}

export function toConverseRequest(chat: ChatRequest, defaultMaxTokens: number): ConverseRequest {
  const messages = toConverseMessages(chat.messages);
  const system: Block[] = [];
  for (const part of chat.system) system.push(...blocksOf(part, () => 0));
  const offered = chat.toolChoice?.type === 'none' ? [] : chat.tools;
  const declared = new Set(offered.map((t) => t.name));
  const tools = [...offered, ...historyTools(messages, declared)].flatMap(toolSpec);
  const cacheable = cachePointFields(chat.model);
  if (!cacheable.tools) dropCachePoints(tools);
  if (!cacheable.prompt)
    for (const list of [system, ...messages.map((m) => m.content)]) dropCachePoints(list);
  limitCachePoints([tools, system, ...messages.map((m) => m.content)]);
  const choice = offered.length > 0 ? toolChoiceBlock(chat.toolChoice) : undefined;
  const claude = isClaudeOnBedrock(chat.model)
    ? claudeSettings(chat, messages, choice !== undefined && !('auto' in choice), defaultMaxTokens)
    : undefined;
  const inference: Block = {
    maxTokens: claude?.maxTokens ?? chat.maxTokens ?? defaultMaxTokens,
    ...(claude
      ? claude.inference
      : {
          ...(chat.temperature !== undefined && { temperature: chat.temperature }),
          ...(chat.topP !== undefined && { topP: chat.topP }),
        }),
    ...(chat.stop.length > 0 && { stopSequences: chat.stop.slice(0, 4) }),
  };
  const extra: Block = claude?.fields ?? {};
  // Without tools offered, "none" holds, unless the history's tools had to be declared again.
  const dropped =
    chat.toolChoice?.type === 'none' && tools.length > 0
      ? [
          'tool_choice none (Converse has no such choice; the tools the history names stay declared)',
        ]
      : [];
  return {
    modelId: chat.model,
    dropped,
    body: {
      messages,
      ...(system.length > 0 && { system }),
      inferenceConfig: inference,
      ...(tools.length > 0 && {
        toolConfig: { tools, ...(choice && { toolChoice: choice }) },
      }),
      ...(Object.keys(extra).length > 0 && { additionalModelRequestFields: extra }),
    },
  };
}
