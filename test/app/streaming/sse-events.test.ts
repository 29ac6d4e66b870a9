import { describe, expect, it } from 'vitest';
import {
  MAX_SSE_EVENT_BYTES,
  frameEvent,
  sseEventBatches,
  sseEvents,
} from '../../../app/src/streaming/sse.ts';

/** Bytes as an upstream might cut them, and whether the consumer let go early. */
function source(parts: readonly Uint8Array[]) {
  const state = { returned: false, read: 0 };
  const iterator: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () =>
      state.read < parts.length
        ? { done: false, value: parts[state.read++]! }
        : { done: true, value: undefined },
    return: async () => {
      state.returned = true;
      return { done: true, value: undefined };
    },
  };
  return { iterator, state };
}

const bytes = (text: string) => new TextEncoder().encode(text);

async function all(parts: readonly Uint8Array[]) {
  const out = [];
  for await (const e of sseEvents(source(parts).iterator)) out.push(e);
  return out;
}

describe('SSE events from upstream chunks', () => {
  it('reassembles events and characters cut anywhere, named events and ids included', async () => {
    const text =
      'event: response.output_text.delta\nid: 7\ndata: {"delta":"你好"}\n\ndata: [DONE]\n\n';
    const whole = bytes(text);
    // Every cut point, including inside the three bytes of a Chinese character.
    for (let cut = 1; cut < whole.length; cut++) {
      const events = await all([whole.slice(0, cut), whole.slice(cut)]);
      expect(events).toEqual([
        { event: 'response.output_text.delta', id: '7', data: '{"delta":"你好"}' },
        { event: undefined, id: undefined, data: '[DONE]' },
      ]);
    }
  });

  it('skips comments (keep-alives) between events', async () => {
    const events = await all([
      bytes(': keep-alive\n\ndata: {"a":1}\n\n'),
      bytes('data: {"b":2}\n\n'),
    ]);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('gives up on an event larger than the parser will hold', async () => {
    const huge = bytes(`data: ${'x'.repeat(MAX_SSE_EVENT_BYTES + 1)}`);
    await expect(all([huge])).rejects.toMatchObject({ type: 'max-buffer-size-exceeded' });
  });

  it('lets go of the upstream when the consumer stops early', async () => {
    const { iterator, state } = source([bytes('data: 1\n\ndata: 2\n\n'), bytes('data: 3\n\n')]);
    const events = sseEvents(iterator);
    expect((await events.next()).value).toMatchObject({ data: '1' });
    await events.return();
    expect(state.returned).toBe(true);
  });

  it('hands over the events of one upstream chunk together, one batch per chunk', async () => {
    const batches = [];
    const parts = [
      bytes('data: 1\n\ndata: 2\n\ndata: 3'),
      // Completes nothing: no batch for it.
      bytes('4'),
      bytes('\n\n: keep-alive\n\n'),
      bytes('data: 5\n\ndata: [DONE]\n\n'),
    ];
    for await (const batch of sseEventBatches(source(parts).iterator))
      batches.push(batch.map((e) => e.data));
    expect(batches).toEqual([['1', '2'], ['34'], ['5', '[DONE]']]);
  });
});

describe('frameEvent', () => {
  it('frames one line and many lines of data, with the event name and id, as a parser reads them back', async () => {
    const events = [
      { data: '{"a":1}' },
      { event: 'message_delta', id: '7', data: '{"b":2}' },
      { data: 'line one\nline two\n' },
      { event: 'ping', data: '' },
    ];
    const text = events.map((e) => frameEvent(e)).join('');
    expect(frameEvent(events[0]!)).toBe('data: {"a":1}\n\n');
    expect(frameEvent(events[2]!)).toBe('data: line one\ndata: line two\ndata: \n\n');
    const parsed = await all([bytes(text)]);
    expect(parsed.map((e) => [e.event, e.id, e.data])).toEqual(
      events.map((e) => [e.event, e.id, e.data]),
    );
  });
});
