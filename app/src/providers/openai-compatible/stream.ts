import type { ChatEvent } from '../../core/chat.ts';
import type { UpstreamFailure } from '../../core/failure.ts';
import { DONE_DATA } from '../../streaming/sse.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { usageFromPayload } from '../../usage/extract.ts';
import type { DecodedEvent, StreamDecoder } from '../types.ts';
import { reasoningOf, stopReasonOf } from './chat-response.ts';
import { classifyOpenAiStreamError } from './errors.ts';
import { PlainChunkReader } from './plain-chunk.ts';

type Json = Record<string, unknown>;

const NO_EVENTS: readonly ChatEvent[] = [];
const SKIP: DecodedEvent = {
  events: NO_EVENTS,
  forward: false,
  content: false,
  finished: false,
  last: false,
};
/** [DONE]: forwarded as is to an OpenAI client; a translating encoder writes its own end. */
const DONE: DecodedEvent = {
  events: NO_EVENTS,
  forward: true,
  content: false,
  finished: true,
  last: true,
};

/** Events after which an upstream is done talking (responses, transcriptions). */
const TERMINAL_TYPES = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
  'transcript.text.done',
]);

const NOT_AN_OBJECT: UpstreamFailure = {
  kind: 'malformed',
  message: 'upstream sent an event that is not a JSON object',
};

/**
 * The message's JSON object, or why it is not one: an event that is not an object is not the
 * wire format, and an error object inside a 200 stream is the upstream giving up.
 */
function parse(msg: EventSourceMessage): { json: Json } | { failure: UpstreamFailure } {
  let json: unknown;
  try {
    json = JSON.parse(msg.data);
  } catch {
    return { failure: NOT_AN_OBJECT };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { failure: NOT_AN_OBJECT };
  const obj = json as Json;
  if (obj.error == null && obj.type !== 'error') return { json: obj };
  return {
    failure: classifyOpenAiStreamError(
      obj.type === 'error' && obj.error === undefined ? { error: obj } : obj,
    ),
  };
}

/** A plain text delta, passed on as is: the same shape as the parsed chunks' answers. */
function textDelta(text: string): DecodedEvent {
  return {
    events: NO_EVENTS,
    forward: true,
    content: text.length > 0,
    finished: false,
    last: false,
    usage: undefined,
    text: text || undefined,
  };
}

/** Chat completion chunks: what the proxy needs to know, and in translation the neutral events. */
export class OpenAiChatDecoder implements StreamDecoder {
  readonly #translate: boolean;
  /** Pass-through: hide the usage chunk the relay asked for on the client's behalf. */
  readonly #hideUsage: boolean;
  #started = false;
  #stopped = false;
  /**
   * Content has been decoded: from then on a plain text delta may skip the full parse. Not
   * before: the plain reading does not validate JSON, and until the first content a malformed
   * chunk must fail the attempt so that it can fail over.
   */
  #contentSeen = false;
  readonly #plain = new PlainChunkReader();
  /** The open neutral text or thinking block. */
  #open: { index: number; kind: 'text' | 'thinking' } | undefined;
  #blocks = 0;
  /** Tool calls so far, in the order they began. */
  readonly #calls: {
    index: number | undefined;
    id: string | undefined;
    name: string;
    args: string;
  }[] = [];

  constructor(opts: { translate: boolean; clientWantsUsage: boolean }) {
    this.#translate = opts.translate;
    this.#hideUsage = !opts.translate && !opts.clientWantsUsage;
  }

  decode(msg: EventSourceMessage): DecodedEvent {
    if (msg.data === DONE_DATA) return this.#finish(DONE);
    // Passed through after the first content, a plain text delta needs no parse (plain-chunk.ts).
    const plain = this.#translate || !this.#contentSeen ? undefined : this.#plain.read(msg.data);
    if (plain !== undefined) return textDelta(plain);
    const parsed = parse(msg);
    if ('failure' in parsed) return { ...SKIP, failure: parsed.failure };
    const { json } = parsed;
    const usage = usageFromPayload(json);
    const choices = Array.isArray(json.choices) ? (json.choices as Json[]) : [];
    const choice = choices[0];
    const delta = (choice?.delta ?? {}) as Json;
    const finish = choices.some((c) => c?.finish_reason);
    let text = '';
    let content = false;
    for (const c of choices) {
      const d = (c?.delta ?? {}) as Json;
      const piece = (typeof d.content === 'string' ? d.content : '') + (reasoningOf(d) ?? '');
      text += piece;
      if (piece.length > 0 || (Array.isArray(d.tool_calls) && d.tool_calls.length > 0))
        content = true;
      for (const t of Array.isArray(d.tool_calls) ? (d.tool_calls as Json[]) : []) {
        const args = (t?.function as Json | undefined)?.arguments;
        if (typeof args === 'string') text += args;
      }
    }
    if (content) this.#contentSeen = true;
    const usageOnly = choices.length === 0 && json.usage != null;
    // One literal of one shape per chunk, `usage` and `text` undefined when absent: spreading
    // `{ usage }` and `{ text }` into it made two objects more and a copy, for every chunk.
    return {
      events: this.#translate ? this.#events(json, delta, choice, usage) : NO_EVENTS,
      forward: !(usageOnly && this.#hideUsage),
      content,
      // The finish chunk completes the answer; the usage chunk and [DONE] may still follow.
      finished: finish,
      last: false,
      usage,
      text: text || undefined,
    };
  }

  #finish(done: DecodedEvent): DecodedEvent {
    if (!this.#translate) return done;
    return { ...done, events: this.#closeAll(null) };
  }

  #events(
    json: Json,
    delta: Json,
    choice: Json | undefined,
    usage: TokenUsage | undefined,
  ): ChatEvent[] {
    const out: ChatEvent[] = [];
    if (!this.#started) {
      this.#started = true;
      out.push({
        type: 'start',
        ...(typeof json.id === 'string' && { id: json.id }),
        ...(typeof json.model === 'string' && { model: json.model }),
      });
    }
    const reasoning = reasoningOf(delta);
    if (reasoning)
      this.#into(out, 'thinking').push({
        type: 'delta',
        index: this.#open!.index,
        delta: { type: 'thinking', text: reasoning },
      });
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.#into(out, 'text').push({
        type: 'delta',
        index: this.#open!.index,
        delta: { type: 'text', text: delta.content },
      });
    }
    for (const t of Array.isArray(delta.tool_calls) ? (delta.tool_calls as Json[]) : [])
      this.#tool(t);
    if (choice?.finish_reason) out.push(...this.#closeAll(stopReasonOf(choice.finish_reason)));
    if (usage) out.push({ type: 'usage', usage });
    return out;
  }

  /** Makes the open block one of `kind`, closing the one before. */
  #into(out: ChatEvent[], kind: 'text' | 'thinking'): ChatEvent[] {
    if (this.#open?.kind !== kind) {
      this.#close(out);
      this.#open = { index: this.#blocks++, kind };
      out.push({ type: 'block_start', index: this.#open.index, block: { type: kind } });
    }
    return out;
  }

  /**
   * Tool calls are gathered whole and emitted when the answer finishes, each as one block: the
   * arguments of parallel calls may arrive interleaved (or for a call whose block another call
   * already followed), and some upstreams (Gemini's OpenAI endpoint) send calls without an
   * `index`, told apart only by their id.
   */
  #tool(t: Json): void {
    const fn = (t.function ?? {}) as Json;
    const id = typeof t.id === 'string' && t.id !== '' ? t.id : undefined;
    let call =
      typeof t.index === 'number' ? this.#calls.find((c) => c.index === t.index) : undefined;
    if (call && id && call.id && call.id !== id) call = undefined;
    if (!call && typeof t.index !== 'number' && !id) call = this.#calls.at(-1);
    if (!call) {
      call = { index: typeof t.index === 'number' ? t.index : undefined, id, name: '', args: '' };
      this.#calls.push(call);
    }
    call.id ??= id;
    if (typeof fn.name === 'string' && call.name === '') call.name = fn.name;
    if (typeof fn.arguments === 'string') call.args += fn.arguments;
  }

  #emitCalls(out: ChatEvent[]): void {
    for (const call of this.#calls.splice(0)) {
      const index = this.#blocks++;
      const id = call.id ?? `call_${index}_${Date.now().toString(36)}`;
      out.push({ type: 'block_start', index, block: { type: 'tool_call', id, name: call.name } });
      if (call.args !== '')
        out.push({ type: 'delta', index, delta: { type: 'tool_input', json: call.args } });
      out.push({ type: 'block_stop', index });
    }
  }

  #close(out: ChatEvent[]): void {
    if (this.#open) out.push({ type: 'block_stop', index: this.#open.index });
    this.#open = undefined;
  }

  #closeAll(reason: ReturnType<typeof stopReasonOf>): ChatEvent[] {
    const out: ChatEvent[] = [];
    this.#close(out);
    this.#emitCalls(out);
    if (!this.#stopped && (reason !== null || this.#started)) {
      this.#stopped = true;
      out.push({ type: 'stop', reason: reason ?? 'end_turn' });
    }
    return out;
  }
}

/**
 * The other OpenAI streams (completions, responses, transcriptions): passed through as they
 * are, read only for content, usage and the end.
 */
export class OpenAiObservingDecoder implements StreamDecoder {
  decode(msg: EventSourceMessage): DecodedEvent {
    if (msg.data === DONE_DATA) return DONE;
    const parsed = parse(msg);
    if ('failure' in parsed) return { ...SKIP, failure: parsed.failure };
    const { json } = parsed;
    const usage = usageFromPayload(json);
    let text = typeof json.delta === 'string' ? json.delta : '';
    const choices = Array.isArray(json.choices) ? (json.choices as Json[]) : [];
    for (const c of choices) if (typeof c?.text === 'string') text += c.text;
    const finished =
      (typeof json.type === 'string' && TERMINAL_TYPES.has(json.type)) ||
      choices.some((c) => c?.finish_reason);
    return {
      events: NO_EVENTS,
      forward: true,
      content: text.length > 0,
      finished,
      last: false,
      ...(usage && { usage }),
      ...(text && { text }),
    };
  }
}
