import { describe, expect, it } from 'vitest';
import type { DecodedEvent } from '../types.ts';
import { toolNameMap } from './names.ts';
import { AnthropicStreamDecoder } from './stream.ts';
import { TextDeltaReader } from './text-deltas.ts';

/** A text delta as Anthropic streams it. */
const textDelta = (text: string, index = 0) =>
  JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });

/** A pass-through decoder after a stream's start and its first content. */
function decoderAfterContent(): AnthropicStreamDecoder {
  const decoder = new AnthropicStreamDecoder(toolNameMap(undefined), false);
  const start = { type: 'message_start', message: { id: 'msg_1', usage: { input_tokens: 3 } } };
  decoder.decode({ event: 'message_start', data: JSON.stringify(start) });
  const block = {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  };
  decoder.decode({ event: 'content_block_start', data: JSON.stringify(block) });
  expect(decoder.decode({ event: 'content_block_delta', data: textDelta('first') }).content).toBe(
    true,
  );
  return decoder;
}

/** What the decoder answers, neutral events aside (a pass-through makes none). */
function answer(decoder: AnthropicStreamDecoder, data: string): Omit<DecodedEvent, 'events'> {
  const { events: _events, ...rest } = decoder.decode({ event: 'content_block_delta', data });
  return rest;
}

/** The decoder's answer through the parse: JSON.parse reads a leading space as nothing. */
const parsed = (data: string) => answer(decoderAfterContent(), ` ${data}`);

describe("TextDeltaReader: a Messages stream's text deltas read against a parsed one's shape", () => {
  it('learns the shape of a text delta once its literal is proven to be the text', () => {
    const reader = new TextDeltaReader();
    const data = textDelta('Hi');
    reader.learn(data, 'Hi');
    expect(reader.shape).toEqual({
      head: data.slice(0, data.indexOf('Hi')),
      tail: '"}}',
      afterPad: undefined,
    });
    // A "text" key the parse reads elsewhere, or a second one that wins, even when the text is
    // the proof's own body: nothing learnt.
    for (const unproven of [
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello","text":"probe"}}',
      '{"type":"content_block_delta","index":0,"meta":{"text":"hello"},"delta":{"type":"text_delta","text":"probe"}}',
      '{"text":"probe","type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"probe"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"},"delta":{"type":"text_delta","text":"probe"}}',
      '{"type":"content_block_delta","index":0,"text":"a","delta":{"type":"text_delta","text":"a"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"a"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","text":"a"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","te\\u0078t":"a"}}',
      // A backslash outside the text: learnt from no such event.
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"},"x":"\\u0041"}',
    ]) {
      const fresh = new TextDeltaReader();
      const parsedDelta = (JSON.parse(unproven) as { delta: { text?: string } }).delta;
      fresh.learn(unproven, parsedDelta.text ?? '');
      expect(fresh.shape, unproven).toBeUndefined();
    }
  });

  it('reads every text delta of that shape as the parse does, and no other event', () => {
    const decoder = decoderAfterContent();
    // The second text delta is parsed and teaches the shape; the rest are read against it.
    expect(answer(decoder, textDelta('Hello'))).toEqual(parsed(textDelta('Hello')));
    const texts = [
      'tok ',
      '',
      'a "quoted" \\ back\\slash\n',
      'é 😀 \u2028',
      '"text":"x"}}',
      'type',
    ];
    for (const text of texts) {
      const data = textDelta(text);
      expect(answer(decoder, data), data).toEqual(parsed(data));
      expect(answer(decoder, data).text).toBe(text);
    }
    const others = [
      textDelta('x', 1),
      JSON.stringify({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'thinking_delta', thinking: 'hm' },
      }),
      JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 9 },
      }),
      // Lookalikes made of the learnt parts: an early quote, then keys of their own.
      `${textDelta('a').slice(0, -3)}","type":"thinking_delta"}}`,
      `${textDelta('a').slice(0, -3)}"},"type":"message_delta","usage":{"output_tokens":9}}`,

      textDelta('bad \\x escape').replace('\\\\x', '\\x'),
    ];
    for (const data of others) expect(answer(decoder, data), data).toEqual(parsed(data));
  });

  it('reads through the shape, not the parse: a raw control character passes as text', () => {
    // Not JSON (a raw tab in a string): the parse fails it, while after the first content a
    // pass-through forwards what comes in the learnt shape, as OpenAI's chunks are.
    const decoder = decoderAfterContent();
    answer(decoder, textDelta('teach'));
    const raw = textDelta('a\tb').replace('\\t', '\t');
    expect(parsed(raw).failure).toMatchObject({ kind: 'malformed' });
    expect(answer(decoder, raw)).toMatchObject({ content: true, text: 'a\tb' });
  });

  it('tries one proof a shape: another only after the last learnt one served an event', () => {
    const reader = new TextDeltaReader();
    reader.learn(textDelta('a', 0), 'a');
    const first = reader.shape;
    // Never read through: the next text delta teaches nothing (no second parse an event).
    reader.learn(textDelta('b', 1), 'b');
    expect(reader.shape).toEqual(first);
    expect(reader.read(textDelta('c', 0))).toBe('c');
    reader.learn(textDelta('d', 1), 'd');
    expect(reader.shape).not.toEqual(first);
    expect(reader.read(textDelta('e', 1))).toBe('e');
    // A proof that fails spends the try: the shape stays, and no other is tried until it serves.
    const learnt = reader.shape;
    const other =
      '{"type":"content_block_delta","index":2,"meta":{"text":"f"},"delta":{"type":"text_delta","text":"f"}}';
    reader.learn(other, 'f');
    reader.learn(textDelta('g', 3), 'g');
    expect(reader.shape).toEqual(learnt);
  });

  it('never reads through a shape an event the parse would take for another type', () => {
    // No `type` in the data: the SSE event's name decides, and an error is a failure.
    const typeless = (text: string) =>
      JSON.stringify({ index: 0, delta: { type: 'text_delta', text } });
    const decoder = decoderAfterContent();
    for (const text of ['a', 'b', 'c'])
      expect(decoder.decode({ event: 'content_block_delta', data: typeless(text) }).text).toBe(
        text,
      );
    const error = decoder.decode({ event: 'error', data: typeless('d') });
    expect(error.text).toBeUndefined();
    expect(error.forward).toBe(false);
  });

  it('gives a translating decoder every text delta as a neutral event', () => {
    const decoder = new AnthropicStreamDecoder(toolNameMap(undefined), true);
    const block = {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    };
    decoder.decode({ event: 'content_block_start', data: JSON.stringify(block) });
    for (const text of ['a', 'b', 'c', 'd', 'e']) {
      const { events } = decoder.decode({ event: 'content_block_delta', data: textDelta(text) });
      expect(events).toEqual([{ type: 'delta', index: 0, delta: { type: 'text', text } }]);
    }
  });

  it('reads nothing through a shape before the first content: a malformed event can fail over', () => {
    const decoder = new AnthropicStreamDecoder(toolNameMap(undefined), false);
    // Two empty text deltas (no content yet), then one of their shape that is not JSON.
    for (let i = 0; i < 2; i++)
      expect(decoder.decode({ event: 'content_block_delta', data: textDelta('') }).content).toBe(
        false,
      );
    const raw = textDelta('a\tb').replace('\\t', '\t');
    expect(decoder.decode({ event: 'content_block_delta', data: raw }).failure).toMatchObject({
      kind: 'malformed',
    });
  });
});
