/**
 * The dialect-neutral chat: what a client dialect parses a request into when the channel
 * speaks another dialect, and what a provider adapter builds its upstream request from (and
 * decodes answers and stream events back into). Same dialect in and out never comes here:
 * those bodies and frames pass through untouched.
 *
 * Modelled on content blocks (Anthropic's shape is the richest of the dialects: thinking with
 * signatures, redacted thinking, cache marks), so nothing one dialect can say is lost on the
 * way to a dialect that can say it too.
 */
import type { TokenUsage } from './usage.ts';

/** A prompt-cache breakpoint on a block (Anthropic's `cache_control`, Bedrock's `cachePoint`). */
export interface CacheMark {
  readonly ttl?: '5m' | '1h';
}

export type MediaSource =
  | { readonly kind: 'base64'; readonly mediaType: string; readonly data: string }
  | { readonly kind: 'url'; readonly url: string };

export interface TextPart {
  readonly type: 'text';
  readonly text: string;
  readonly cache?: CacheMark;
}

export interface ImagePart {
  readonly type: 'image';
  readonly source: MediaSource;
  /** OpenAI's resolution hint; other dialects have none. */
  readonly detail?: string;
  readonly cache?: CacheMark;
}

/** A file the model reads (PDF or plain text). */
export interface DocumentPart {
  readonly type: 'document';
  readonly source: MediaSource;
  readonly title?: string;
  readonly cache?: CacheMark;
}

/** Visible reasoning. The signature proves it to the upstream that wrote it; keep it verbatim. */
export interface ThinkingPart {
  readonly type: 'thinking';
  readonly text: string;
  readonly signature?: string;
}

/** Reasoning the upstream encrypted; only that upstream can read it back. */
export interface RedactedThinkingPart {
  readonly type: 'redacted_thinking';
  readonly data: string;
}

export interface ToolCallPart {
  readonly type: 'tool_call';
  readonly id: string;
  readonly name: string;
  /** The arguments as a JSON object (OpenAI's string is parsed; text that is not JSON becomes {}). */
  readonly input: Record<string, unknown>;
  readonly cache?: CacheMark;
}

export interface ToolResultPart {
  readonly type: 'tool_result';
  readonly toolCallId: string;
  readonly content: readonly (TextPart | ImagePart)[];
  readonly isError?: boolean;
  readonly cache?: CacheMark;
}

export type Part =
  | TextPart
  | ImagePart
  | DocumentPart
  | ThinkingPart
  | RedactedThinkingPart
  | ToolCallPart
  | ToolResultPart;

/** What a model can say back. */
export type OutputPart = TextPart | ThinkingPart | RedactedThinkingPart | ToolCallPart;

/**
 * A turn. Tool results travel in user turns (as in Anthropic and Gemini); a dialect that has a
 * `tool` role (OpenAI) splits them out again when it renders.
 */
export interface ChatMessage {
  readonly role: 'user' | 'assistant';
  readonly content: readonly Part[];
}

export interface ToolDef {
  readonly name: string;
  readonly description?: string;
  /** JSON Schema of the input object. */
  readonly inputSchema: Record<string, unknown>;
  readonly strict?: boolean;
  readonly cache?: CacheMark;
}

export type ToolChoice =
  | { readonly type: 'auto' }
  | { readonly type: 'none' }
  /** Some tool must be called (OpenAI `required`, Anthropic `any`). */
  | { readonly type: 'required' }
  | { readonly type: 'tool'; readonly name: string };

/** Reasoning effort, in the words every dialect shares. */
export type Effort = 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max';

export interface ThinkingConfig {
  readonly enabled: boolean;
  /** Anthropic's budget_tokens, Gemini's thinkingBudget. */
  readonly budgetTokens?: number;
  /** OpenAI's reasoning_effort, Anthropic's output_config.effort. */
  readonly effort?: Effort;
}

export type ResponseFormat =
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly name?: string;
      readonly schema: Record<string, unknown>;
      readonly strict?: boolean;
    };

export interface ChatRequest {
  readonly model: string;
  /** System prompt blocks (OpenAI system/developer messages are collected here, in order). */
  readonly system: readonly TextPart[];
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolDef[];
  readonly toolChoice?: ToolChoice;
  /** false = at most one tool call per turn (OpenAI parallel_tool_calls, Anthropic disable_parallel_tool_use). */
  readonly parallelToolCalls?: boolean;
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly stop: readonly string[];
  readonly stream: boolean;
  readonly thinking?: ThinkingConfig;
  readonly responseFormat?: ResponseFormat;
  /** An end-user id for the provider's abuse tracking (OpenAI `user`, Anthropic metadata.user_id). */
  readonly user?: string;
}

/**
 * Why the model stopped, in Anthropic's words (the most specific set); `content_filter` covers
 * OpenAI's and Gemini's safety stops, `error` an upstream that said it failed.
 */
export type StopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'content_filter'
  | 'context_window_exceeded';

export interface ChatResponse {
  readonly id: string;
  readonly model: string;
  readonly content: readonly OutputPart[];
  readonly stopReason: StopReason | null;
  readonly stopSequence?: string | null;
  readonly usage?: TokenUsage;
}

/** How a streamed block opens. */
export type BlockStart =
  | { readonly type: 'text' }
  | { readonly type: 'thinking' }
  | { readonly type: 'redacted_thinking'; readonly data: string }
  | { readonly type: 'tool_call'; readonly id: string; readonly name: string };

export type BlockDelta =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'thinking'; readonly text: string }
  | { readonly type: 'signature'; readonly signature: string }
  /** A piece of the tool input's JSON text; the pieces concatenate to the whole object. */
  | { readonly type: 'tool_input'; readonly json: string };

/**
 * One step of a streamed answer. Decoders emit a well-formed sequence: `start` first, deltas
 * only inside an open block, every opened block stopped, `stop` once, after the last block.
 * Block indexes are the decoder's own and count up from 0; an encoder renumbers as its dialect
 * needs. `usage` may come more than once (each one the totals so far) and after `stop`.
 */
export type ChatEvent =
  | {
      readonly type: 'start';
      readonly id?: string;
      readonly model?: string;
      readonly usage?: TokenUsage;
    }
  | { readonly type: 'block_start'; readonly index: number; readonly block: BlockStart }
  | { readonly type: 'delta'; readonly index: number; readonly delta: BlockDelta }
  | { readonly type: 'block_stop'; readonly index: number }
  | { readonly type: 'usage'; readonly usage: TokenUsage }
  | {
      readonly type: 'stop';
      readonly reason: StopReason | null;
      readonly stopSequence?: string | null;
    };

/**
 * A whole answer as the events a stream of it would have carried: for a streaming client whose
 * upstream answered in one piece (some models ignore `stream`).
 */
export function eventsOf(response: ChatResponse): ChatEvent[] {
  const out: ChatEvent[] = [{ type: 'start', id: response.id, model: response.model }];
  response.content.forEach((part, index) => {
    switch (part.type) {
      case 'text':
        out.push({ type: 'block_start', index, block: { type: 'text' } });
        out.push({ type: 'delta', index, delta: { type: 'text', text: part.text } });
        break;
      case 'thinking':
        out.push({ type: 'block_start', index, block: { type: 'thinking' } });
        out.push({ type: 'delta', index, delta: { type: 'thinking', text: part.text } });
        if (part.signature)
          out.push({
            type: 'delta',
            index,
            delta: { type: 'signature', signature: part.signature },
          });
        break;
      case 'redacted_thinking':
        out.push({
          type: 'block_start',
          index,
          block: { type: 'redacted_thinking', data: part.data },
        });
        break;
      case 'tool_call':
        out.push({
          type: 'block_start',
          index,
          block: { type: 'tool_call', id: part.id, name: part.name },
        });
        out.push({
          type: 'delta',
          index,
          delta: { type: 'tool_input', json: JSON.stringify(part.input) },
        });
        break;
    }
    out.push({ type: 'block_stop', index });
  });
  out.push({
    type: 'stop',
    reason: response.stopReason,
    ...(response.stopSequence !== undefined && { stopSequence: response.stopSequence }),
  });
  if (response.usage) out.push({ type: 'usage', usage: response.usage });
  return out;
}
