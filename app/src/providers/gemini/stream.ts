/**
 * Reads a Gemini `streamGenerateContent?alt=sse` stream, one SSE message at a time. Each message
 * is a whole GenerateContentResponse with the parts that are new; the one with a finishReason
 * ends the answer (Gemini sends no end marker: the body just ends). For the proxy's bookkeeping
 * on every stream, and as neutral events when the client speaks another dialect: thoughts and
 * text open blocks that stay open while more of the same kind comes, each function call is a
 * whole block, and a thoughtSignature on any part — text or none, thought or call — becomes a
 * signed thinking block right where it was (see dialects/gemini/parts.ts).
 */
import type { ChatEvent, StopReason } from '../../core/chat.ts';
import type { TokenUsage } from '../../core/usage.ts';
import { neutralFinishReason } from '../../dialects/gemini/finish.ts';
import type { Json } from '../../core/json.ts';
import { isObject, objects, str } from '../../core/json.ts';
import { readGeminiUsage } from '../../dialects/gemini/usage.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import type { DecodedEvent, StreamDecoder } from '../types.ts';
import { NOT_AN_OBJECT, NOTHING, eventObject } from '../stream-event.ts';
import { classifyGeminiErrorEvent } from './errors.ts';
import { candidateOf, freshIds, hasContent, noAnswer, partsOf } from './response.ts';

type Open = { readonly kind: 'text' | 'thinking'; readonly index: number } | undefined;

export class GeminiStreamDecoder implements StreamDecoder {
  readonly #translate: boolean;
  #started = false;
  #open: Open;
  #next = 0;
  #wrote = false;
  #calledTools = false;
  #stopped = false;
  #usage: TokenUsage | undefined;
  #events: ChatEvent[] = [];

  constructor(translate: boolean) {
    this.#translate = translate;
  }

  decode(message: EventSourceMessage): DecodedEvent {
    const json = eventObject(message.data);
    if (!json) return NOT_AN_OBJECT;
    if (isObject(json.error))
      return { ...NOTHING, forward: false, failure: classifyGeminiErrorEvent(json) };
    this.#usage = readGeminiUsage(json.usageMetadata) ?? this.#usage;
    const candidate = candidateOf(json);
    const parts = partsOf(candidate);
    const content = hasContent(parts);
    const text = objects(parts)
      .map((p) =>
        isObject(p.functionCall) ? JSON.stringify(p.functionCall.args ?? {}) : str(p.text),
      )
      .join('');
    if (content) this.#wrote = true;
    const blocked = isObject(json.promptFeedback) && str(json.promptFeedback.blockReason) !== '';
    const reason = candidate?.finishReason ?? (blocked ? 'SAFETY' : undefined);
    const finished = typeof reason === 'string' && reason !== '';
    const failure = finished ? noAnswer(reason, this.#wrote, this.#usage) : undefined;
    if (failure) return { ...NOTHING, forward: false, failure };
    const decoded: DecodedEvent = {
      ...NOTHING,
      content,
      finished,
      ...(this.#usage && { usage: this.#usage }),
      ...(text && { text }),
    };
    if (!this.#translate) return decoded;
    this.#events = [];
    if (!this.#started) {
      this.#started = true;
      this.#events.push({ type: 'start', id: str(json.responseId), model: str(json.modelVersion) });
    }
    for (const part of objects(parts)) this.#part(part);
    if (finished) this.#finish(neutralFinishReason(reason, this.#calledTools));
    else if (this.#usage) this.#events.push({ type: 'usage', usage: this.#usage });
    return { ...decoded, events: this.#events };
  }

  #part(part: Json): void {
    const signature = str(part.thoughtSignature);
    if (part.thought === true) {
      this.#text('thinking', str(part.text));
      if (signature) this.#delta({ type: 'signature', signature });
      return;
    }
    // A signature on anything but a thought is a signed thinking block of its own, before it.
    if (signature) {
      this.#close();
      this.#text('thinking', '');
      this.#delta({ type: 'signature', signature });
      this.#close();
    }
    if (typeof part.text === 'string') {
      if (part.text) this.#text('text', part.text);
      return;
    }
    if (isObject(part.functionCall)) {
      this.#close();
      const call = part.functionCall;
      const index = this.#next++;
      this.#calledTools = true;
      this.#events.push(
        {
          type: 'block_start',
          index,
          block: { type: 'tool_call', id: freshIds.call(str(call.id), ''), name: str(call.name) },
        },
        {
          type: 'delta',
          index,
          delta: { type: 'tool_input', json: JSON.stringify(isObject(call.args) ? call.args : {}) },
        },
        { type: 'block_stop', index },
      );
    }
  }

  /** Text or thought text into the open block of its kind, opening one when needed. */
  #text(kind: 'text' | 'thinking', text: string): void {
    if (this.#open?.kind !== kind) {
      this.#close();
      this.#open = { kind, index: this.#next++ };
      this.#events.push({ type: 'block_start', index: this.#open.index, block: { type: kind } });
    }
    if (text) this.#delta({ type: kind, text });
  }

  #delta(delta: ChatEvent & { type: 'delta' } extends { delta: infer D } ? D : never): void {
    if (this.#open) this.#events.push({ type: 'delta', index: this.#open.index, delta });
  }

  #close(): void {
    if (this.#open) this.#events.push({ type: 'block_stop', index: this.#open.index });
    this.#open = undefined;
  }

  /** The stop goes out once; a later chunk (usage only) adds its usage. */
  #finish(reason: StopReason | null): void {
    this.#close();
    if (this.#stopped) {
      if (this.#usage) this.#events.push({ type: 'usage', usage: this.#usage });
      return;
    }
    this.#stopped = true;
    this.#events.push({ type: 'stop', reason });
    if (this.#usage) this.#events.push({ type: 'usage', usage: this.#usage });
  }
}
