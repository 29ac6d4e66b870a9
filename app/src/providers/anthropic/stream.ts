/**
 * Reads an Anthropic Messages stream, one SSE message at a time: for the proxy's bookkeeping
 * (content seen, usage, finished, error) on every stream, and as neutral events when the
 * client speaks another dialect. One decoder per attempt; its state is its own, so concurrent
 * streams never see each other's blocks or usage.
 */
import type { BlockDelta, BlockStart, ChatEvent, StopReason } from '../../core/chat.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import type { DecodedEvent, StreamDecoder } from '../types.ts';
import { NOT_AN_OBJECT, NOTHING, eventObject } from '../stream-event.ts';
import { classifyAnthropicErrorEvent } from './errors.ts';
import { isObject, str } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';
import type { ToolNameMap } from './names.ts';
import { neutralStopReason } from './response.ts';
import { TextDeltaReader } from './text-deltas.ts';
import { mergeAnthropicUsage, readAnthropicUsage } from './usage.ts';

/** A content_block_delta's delta in neutral words, or undefined for kinds with none (citations). */
function neutralDelta(delta: Json): BlockDelta | undefined {
  switch (delta.type) {
    case 'text_delta':
      return { type: 'text', text: str(delta.text) };
    case 'thinking_delta':
      return { type: 'thinking', text: str(delta.thinking) };
    case 'signature_delta':
      return { type: 'signature', signature: str(delta.signature) };
    case 'input_json_delta':
      return { type: 'tool_input', json: str(delta.partial_json) };
    default:
      return undefined;
  }
}

/** What a delta adds to the answer's visible text (for estimates and the content test). */
function deltaText(delta: BlockDelta | undefined): string {
  if (!delta) return '';
  if (delta.type === 'text' || delta.type === 'thinking') return delta.text;
  return delta.type === 'tool_input' ? delta.json : '';
}

export class AnthropicStreamDecoder implements StreamDecoder {
  readonly #names: ToolNameMap;
  readonly #translate: boolean;
  #usage: Json | undefined;
  /** Upstream block index → neutral index, for the blocks that have a neutral equivalent. */
  readonly #open = new Map<number, number>();
  #next = 0;
  #reason: StopReason | null = null;
  #stopSequence: string | null = null;
  #stopped = false;
  /**
   * Content has been decoded: from then on a pass-through reads a text delta of a known shape
   * without a parse. Not before: until the first content a malformed event must fail the
   * attempt, so that it can fail over.
   */
  #contentSeen = false;
  readonly #deltas = new TextDeltaReader();

  constructor(names: ToolNameMap, translate: boolean) {
    this.#names = names;
    this.#translate = translate;
  }

  decode(message: EventSourceMessage): DecodedEvent {
    if (this.#contentSeen && !this.#translate) {
      const text = this.#deltas.read(message.data);
      if (text !== undefined) return { ...NOTHING, content: text.length > 0, text };
    }
    const json = eventObject(message.data);
    if (!json) return NOT_AN_OBJECT;
    const decoded = this.#decodeObject(json, message);
    if (decoded.content) this.#contentSeen = true;
    return decoded;
  }

  #decodeObject(json: Json, message: EventSourceMessage): DecodedEvent {
    switch (json.type ?? message.event) {
      case 'message_start':
        return this.#messageStart(isObject(json.message) ? json.message : {});
      case 'content_block_start':
        return this.#blockStart(
          Number(json.index),
          isObject(json.content_block) ? json.content_block : {},
        );
      case 'content_block_delta': {
        const delta = isObject(json.delta) ? json.delta : {};
        const decoded = this.#blockDelta(Number(json.index), delta);
        if (this.#contentSeen && !this.#translate && delta.type === 'text_delta')
          this.#deltas.learn(message.data, decoded.text ?? '');
        return decoded;
      }
      case 'content_block_stop':
        return this.#blockStop(Number(json.index));
      case 'message_delta':
        return this.#messageDelta(json);
      case 'message_stop':
        return {
          ...NOTHING,
          events: this.#translate ? this.#stop() : [],
          finished: true,
          last: true,
        };
      case 'error':
        return { ...NOTHING, forward: false, failure: classifyAnthropicErrorEvent(json) };
      default:
        // ping, and event types Anthropic may add: passed on, never translated.
        return NOTHING;
    }
  }

  #messageStart(message: Json): DecodedEvent {
    this.#usage = mergeAnthropicUsage(undefined, message.usage);
    const usage = readAnthropicUsage(this.#usage);
    const events: ChatEvent[] = this.#translate
      ? [{ type: 'start', id: str(message.id), model: str(message.model), ...(usage && { usage }) }]
      : [];
    return { ...NOTHING, events, ...(usage && { usage }) };
  }

  #blockStart(index: number, block: Json): DecodedEvent {
    const events: ChatEvent[] = [];
    const open = (start: BlockStart): void => {
      const neutral = this.#next++;
      this.#open.set(index, neutral);
      events.push({ type: 'block_start', index: neutral, block: start });
    };
    // A start may already carry text or input (Anthropic-compatible upstreams that do not
    // stream them): it is emitted as the block's first delta so nothing is lost.
    let first: BlockDelta | undefined;
    switch (block.type) {
      case 'text':
        open({ type: 'text' });
        if (str(block.text)) first = { type: 'text', text: str(block.text) };
        break;
      case 'thinking':
        open({ type: 'thinking' });
        if (str(block.thinking)) first = { type: 'thinking', text: str(block.thinking) };
        break;
      case 'redacted_thinking':
        open({ type: 'redacted_thinking', data: str(block.data) });
        break;
      case 'tool_use':
        open({
          type: 'tool_call',
          id: str(block.id),
          name: this.#names.fromUpstream(str(block.name)),
        });
        if (isObject(block.input) && Object.keys(block.input).length > 0)
          first = { type: 'tool_input', json: JSON.stringify(block.input) };
        break;
    }
    const neutral = this.#open.get(index);
    if (first && neutral !== undefined)
      events.push({ type: 'delta', index: neutral, delta: first });
    // Anything but an empty text or thinking block is already part of the answer.
    const content =
      (block.type !== 'text' && block.type !== 'thinking') || deltaText(first).length > 0;
    return { ...NOTHING, events: this.#translate ? events : [], content, text: deltaText(first) };
  }

  #blockDelta(index: number, delta: Json): DecodedEvent {
    const neutral = neutralDelta(delta);
    const text = deltaText(neutral);
    const decoded: DecodedEvent = { ...NOTHING, content: text.length > 0, text };
    if (!this.#translate || !neutral) return decoded;
    const events: ChatEvent[] = [];
    let at = this.#open.get(index);
    if (at === undefined && (neutral.type === 'text' || neutral.type === 'thinking')) {
      // A delta for a block that never started: open one of its kind rather than lose the text.
      at = this.#next++;
      this.#open.set(index, at);
      events.push({ type: 'block_start', index: at, block: { type: neutral.type } });
    }
    if (at !== undefined) events.push({ type: 'delta', index: at, delta: neutral });
    return { ...decoded, events };
  }

  #blockStop(index: number): DecodedEvent {
    const at = this.#open.get(index);
    this.#open.delete(index);
    if (at === undefined || !this.#translate) return NOTHING;
    return { ...NOTHING, events: [{ type: 'block_stop', index: at }] };
  }

  #messageDelta(json: Json): DecodedEvent {
    this.#usage = mergeAnthropicUsage(this.#usage, json.usage);
    const usage = readAnthropicUsage(this.#usage);
    if (!this.#translate) return { ...NOTHING, ...(usage && { usage }) };
    // The stop itself waits for message_stop: Anthropic may send more than one message_delta.
    const delta = isObject(json.delta) ? json.delta : {};
    this.#reason = neutralStopReason(delta.stop_reason) ?? this.#reason;
    if (typeof delta.stop_sequence === 'string') this.#stopSequence = delta.stop_sequence;
    return { ...NOTHING, events: usage ? [{ type: 'usage', usage }] : [], ...(usage && { usage }) };
  }

  /** The neutral stop, once, after closing whatever the upstream left open. */
  #stop(): ChatEvent[] {
    if (this.#stopped) return [];
    this.#stopped = true;
    const events: ChatEvent[] = [...this.#open.values()].map((index) => ({
      type: 'block_stop',
      index,
    }));
    this.#open.clear();
    events.push({ type: 'stop', reason: this.#reason, stopSequence: this.#stopSequence });
    return events;
  }
}
