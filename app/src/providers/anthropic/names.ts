/**
 * Tool ids and names as Anthropic accepts them. Other dialects allow more: OpenAI tool names up
 * to 64 characters of a wider set (MCP clients prefix server names and go past it), and ids
 * such as Kimi's `functions.get_weather:0`. Anthropic answers those with a 400, so they are
 * rewritten on the way up — deterministically, so the same id in a tool_use and its
 * tool_result (and across the turns of a conversation, each sent in its own request) maps the
 * same way, and names are mapped back before the client sees them.
 */
import { createHash } from 'node:crypto';
import type { ChatRequest } from '../../core/chat.ts';

const ID_OK = /^[a-zA-Z0-9_-]+$/;
const NAME_OK = /^[a-zA-Z0-9_-]{1,64}$/;
export const MAX_TOOL_NAME = 64;

const hash8 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8);

/**
 * A tool id Anthropic accepts. Valid ids pass unchanged; others keep their readable characters
 * and gain a hash of the original, so two ids that differ only in refused characters
 * (`a.b`, `a:b`) stay apart.
 */
export function anthropicToolId(id: string): string {
  if (ID_OK.test(id)) return id;
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}_${hash8(id)}`;
}

/**
 * A tool name Anthropic accepts (`^[a-zA-Z0-9_-]{1,64}$`). Valid names pass unchanged; others
 * are cleaned and, when too long, cut to leave room for a hash of the original.
 */
export function anthropicToolName(name: string): string {
  if (NAME_OK.test(name)) return name;
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, '_');
  const suffix = `_${hash8(name)}`;
  return cleaned.slice(0, MAX_TOOL_NAME - suffix.length) + suffix;
}

/** Both directions of the name rewrite for one request. */
export interface ToolNameMap {
  toUpstream(name: string): string;
  /** The client's own name for a name the upstream used (unknown names pass unchanged). */
  fromUpstream(name: string): string;
}

/**
 * The rewrite for the names a request mentions: its tools, the tool calls in its history and
 * the forced tool choice. Built again from the same request by the decoders, so nothing has to
 * be carried between building the request and reading the answer.
 */
export function toolNameMap(chat: ChatRequest | undefined): ToolNameMap {
  const back = new Map<string, string>();
  const remember = (name: string) => {
    const upstream = anthropicToolName(name);
    if (upstream !== name) back.set(upstream, name);
  };
  for (const tool of chat?.tools ?? []) remember(tool.name);
  for (const message of chat?.messages ?? []) {
    for (const part of message.content) if (part.type === 'tool_call') remember(part.name);
  }
  if (chat?.toolChoice?.type === 'tool') remember(chat.toolChoice.name);
  return {
    toUpstream: anthropicToolName,
    fromUpstream: (name) => back.get(name) ?? name,
  };
}
