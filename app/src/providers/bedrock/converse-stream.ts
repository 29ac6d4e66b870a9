/**
 * Reads a ConverseStream answer, one event at a time. The transport hands the SDK's events on
 * as SSE messages named after the event (`contentBlockDelta`, `metadata`…, `error` for an
 * exception), so the proxy's stream machinery runs unchanged. Converse opens text and reasoning
 * blocks with their first delta (only tool calls get a contentBlockStart), so the decoder opens
 * them itself; usage comes last, in `metadata`, after messageStop.
 */
import type { BlockDelta, BlockStart, ChatEvent } from '../../core/chat.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import type { DecodedEvent, StreamDecoder } from '../types.ts';
import { isObject, str } from '../../core/json.ts';
import type { Json } from '../../core/json.ts';
import { converseId, neutralStop, readConverseUsage } from './converse-response.ts';
import { classifyBedrockStreamError, parseBedrockError } from './errors.ts';

const quiet = (events: ChatEvent[] = []): DecodedEvent => ({
  events,
  forward: false,
  content: false,
  finished: false,
  last: false,
});

/** A delta's block kind and its neutral delta. */
function readDelta(delta: Json): { start: BlockStart; delta?: BlockDelta } | undefined {
  if (typeof delta.text === 'string')
    return { start: { type: 'text' }, delta: { type: 'text', text: delta.text } };
  if (isObject(delta.toolUse))
    return {
      start: { type: 'tool_call', id: '', name: '' },
      delta: { type: 'tool_input', json: str(delta.toolUse.input) },
    };
  if (isObject(delta.reasoningContent)) {
    const r = delta.reasoningContent;
    if (typeof r.text === 'string')
      return { start: { type: 'thinking' }, delta: { type: 'thinking', text: r.text } };
    if (typeof r.signature === 'string')
      return { start: { type: 'thinking' }, delta: { type: 'signature', signature: r.signature } };
    if (typeof r.redactedContent === 'string')
      return { start: { type: 'redacted_thinking', data: r.redactedContent } };
  }
  return undefined;
}

export class ConverseStreamDecoder implements StreamDecoder {
  readonly #model: string;
  /** Converse's block index → ours (neutral indexes count up from 0 in opening order). */
  readonly #open = new Map<number, number>();
  #next = 0;
  #started = false;

  constructor(model: string) {
    this.#model = model;
  }

  #start(events: ChatEvent[]): void {
    if (this.#started) return;
    this.#started = true;
    events.push({ type: 'start', id: converseId(), model: this.#model });
  }

  #openBlock(events: ChatEvent[], upstream: number, block: BlockStart): number {
    const known = this.#open.get(upstream);
    if (known !== undefined) return known;
    const index = this.#next++;
    this.#open.set(upstream, index);
    events.push({ type: 'block_start', index, block });
    return index;
  }

  decode(message: EventSourceMessage): DecodedEvent {
    let data: Json;
    try {
      const parsed: unknown = JSON.parse(message.data);
      data = isObject(parsed) ? parsed : {};
    } catch {
      return { ...quiet(), failure: { kind: 'malformed', message: 'bedrock event is not JSON' } };
    }
    const events: ChatEvent[] = [];
    switch (message.event) {
      case 'messageStart':
        this.#start(events);
        return quiet(events);
      case 'contentBlockStart': {
        this.#start(events);
        const use =
          isObject(data.start) && isObject(data.start.toolUse) ? data.start.toolUse : undefined;
        // Other kinds of block open with their first delta.
        if (!use) return quiet(events);
        const block: BlockStart = {
          type: 'tool_call',
          id: str(use.toolUseId),
          name: str(use.name),
        };
        this.#openBlock(events, num(data.contentBlockIndex), block);
        return { ...quiet(events), content: true };
      }
      case 'contentBlockDelta': {
        this.#start(events);
        const read = isObject(data.delta) ? readDelta(data.delta) : undefined;
        if (!read) return quiet(events);
        const index = this.#openBlock(events, num(data.contentBlockIndex), read.start);
        if (read.delta) events.push({ type: 'delta', index, delta: read.delta });
        const text = read.delta?.type === 'text' ? read.delta.text : undefined;
        return { ...quiet(events), content: true, ...(text && { text }) };
      }
      case 'contentBlockStop': {
        const upstream = num(data.contentBlockIndex);
        const index = this.#open.get(upstream);
        if (index !== undefined) events.push({ type: 'block_stop', index });
        this.#open.delete(upstream);
        return quiet(events);
      }
      case 'messageStop':
        this.#start(events);
        for (const index of this.#open.values()) events.push({ type: 'block_stop', index });
        this.#open.clear();
        events.push({ type: 'stop', reason: neutralStop(data.stopReason) });
        return { ...quiet(events), finished: true };
      case 'metadata': {
        const usage = readConverseUsage(data.usage);
        if (usage) events.push({ type: 'usage', usage });
        return { ...quiet(events), ...(usage && { usage }), last: true };
      }
      case 'error':
        return { ...quiet(), failure: classifyBedrockStreamError(parseBedrockError(message.data)) };
      default:
        return quiet();
    }
  }
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
