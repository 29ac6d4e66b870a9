import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import { sseEvents } from '../../streaming/sse.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import { OpenAiChatDecoder, OpenAiObservingDecoder } from './stream.ts';

const GOLDEN = new URL(
  '../../../../test/fixtures/golden/openai/chat-stream-tools.sse',
  import.meta.url,
);

async function messages(text: string): Promise<EventSourceMessage[]> {
  const out: EventSourceMessage[] = [];
  async function* body() {
    yield new TextEncoder().encode(text);
  }
  for await (const m of sseEvents(body())) out.push(m);
  return out;
}

describe('OpenAiChatDecoder', () => {
  it('turns reasoning, text and parallel tool calls into well-formed neutral blocks', async () => {
    const decoder = new OpenAiChatDecoder({ translate: true, clientWantsUsage: false });
    const decoded = (await messages(readFileSync(GOLDEN, 'utf8'))).map((m) => decoder.decode(m));
    const events: ChatEvent[] = decoded.flatMap((d) => d.events);
    expect(events).toEqual([
      { type: 'start', id: 'chatcmpl-123', model: 'gpt-4o-mini' },
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'delta', index: 0, delta: { type: 'thinking', text: 'User wants ' } },
      { type: 'delta', index: 0, delta: { type: 'thinking', text: 'two cities.' } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      { type: 'delta', index: 1, delta: { type: 'text', text: 'Checking ' } },
      { type: 'delta', index: 1, delta: { type: 'text', text: 'both.' } },
      { type: 'block_stop', index: 1 },
      // Tool calls come whole when the answer finishes (their arguments may interleave).
      {
        type: 'block_start',
        index: 2,
        block: { type: 'tool_call', id: 'call_abc', name: 'get_current_weather' },
      },
      { type: 'delta', index: 2, delta: { type: 'tool_input', json: '{"location": "Paris"}' } },
      { type: 'block_stop', index: 2 },
      {
        type: 'block_start',
        index: 3,
        block: { type: 'tool_call', id: 'call_def', name: 'get_current_weather' },
      },
      { type: 'delta', index: 3, delta: { type: 'tool_input', json: '{"location": "Rome"}' } },
      { type: 'block_stop', index: 3 },
      { type: 'stop', reason: 'tool_use' },
      {
        type: 'usage',
        usage: { promptTokens: 82, completionTokens: 41, cacheReadTokens: 64, reasoningTokens: 12 },
      },
    ]);
    // Content starts with the first reasoning piece; the finish chunk completes the answer and
    // [DONE] is the last thing worth reading.
    expect(decoded.map((d) => d.content)).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(decoded.findIndex((d) => d.finished)).toBe(10);
    expect(decoded.at(-1)).toMatchObject({ finished: true, last: true });
  });

  it('keeps interleaved arguments with their call, and tells index-less calls apart by id', async () => {
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const call = (t: object) => chunk({ tool_calls: [t] });
    const interleaved =
      call({
        index: 0,
        id: 'call_a',
        type: 'function',
        function: { name: 'weather', arguments: '' },
      }) +
      call({
        index: 1,
        id: 'call_b',
        type: 'function',
        function: { name: 'weather', arguments: '' },
      }) +
      call({ index: 0, function: { arguments: '{"city":"Paris"}' } }) +
      call({ index: 1, function: { arguments: '{"city":"Rome"}' } }) +
      chunk({}, 'tool_calls');
    // Gemini's OpenAI endpoint: every call whole, no index.
    const indexless =
      call({
        id: 'g1',
        type: 'function',
        function: { name: 'weather', arguments: '{"city":"Paris"}' },
      }) +
      call({ id: 'g2', type: 'function', function: { name: 'time', arguments: '{"tz":"CET"}' } }) +
      chunk({}, 'tool_calls');
    for (const [text, expected] of [
      [
        interleaved,
        [
          ['call_a', 'weather', '{"city":"Paris"}'],
          ['call_b', 'weather', '{"city":"Rome"}'],
        ],
      ],
      [
        indexless,
        [
          ['g1', 'weather', '{"city":"Paris"}'],
          ['g2', 'time', '{"tz":"CET"}'],
        ],
      ],
    ] as const) {
      const decoder = new OpenAiChatDecoder({ translate: true, clientWantsUsage: false });
      const events = (await messages(text)).flatMap((m) => decoder.decode(m).events);
      const starts = events.flatMap((e) =>
        e.type === 'block_start' && e.block.type === 'tool_call'
          ? [[e.block.id, e.block.name]]
          : [],
      );
      const inputs = events.flatMap((e) =>
        e.type === 'delta' && e.delta.type === 'tool_input' ? [e.delta.json] : [],
      );
      expect(starts.map((s, i) => [...s, inputs[i]])).toEqual(expected);
    }
  });

  it('in pass-through forwards every frame but the usage chunk the client did not ask for', async () => {
    const frames = await messages(readFileSync(GOLDEN, 'utf8'));
    const hiding = new OpenAiChatDecoder({ translate: false, clientWantsUsage: false });
    const asking = new OpenAiChatDecoder({ translate: false, clientWantsUsage: true });
    const hidden = frames.map((m) => hiding.decode(m));
    expect(hidden.map((d) => d.forward)).toEqual(frames.map((_, i) => i !== 11));
    expect(hidden.every((d) => d.events.length === 0)).toBe(true);
    expect(frames.map((m) => asking.decode(m).forward).every(Boolean)).toBe(true);
    expect(hidden[11]!.usage).toMatchObject({ promptTokens: 82, completionTokens: 41 });
    expect(hidden.map((d) => d.text ?? '').join('')).toBe(
      'User wants two cities.Checking both.{"location": "Paris"}{"location": "Rome"}',
    );
  });

  it('reports an error object in the stream and an event that is not JSON as failures', async () => {
    const decoder = new OpenAiChatDecoder({ translate: true, clientWantsUsage: false });
    const [error, junk] = await messages(
      'data: {"error":{"message":"overloaded","type":"server_error"}}\n\ndata: not json\n\n',
    );
    expect(decoder.decode(error!).failure).toMatchObject({ kind: 'stream-error' });
    expect(decoder.decode(junk!).failure).toMatchObject({ kind: 'malformed' });
  });

  it('keeps no state between streams: two decoders number their blocks from 0 each', async () => {
    const text = readFileSync(GOLDEN, 'utf8');
    const [one, two] = [
      new OpenAiChatDecoder({ translate: true, clientWantsUsage: false }),
      new OpenAiChatDecoder({ translate: true, clientWantsUsage: false }),
    ];
    const frames = await messages(text);
    const a = frames.slice(0, 4).flatMap((m) => one.decode(m).events);
    const b = frames.slice(0, 4).flatMap((m) => two.decode(m).events);
    expect(b).toEqual(a);
  });
});

describe('OpenAiObservingDecoder', () => {
  it('sees responses-API text deltas as content and response.completed as the end', async () => {
    const decoder = new OpenAiObservingDecoder();
    const frames = await messages(
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n' +
        'event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
    );
    const [delta, done] = frames.map((m) => decoder.decode(m));
    expect(delta).toMatchObject({ content: true, finished: false, forward: true, text: 'Hi' });
    expect(done).toMatchObject({ finished: true, usage: { promptTokens: 5, completionTokens: 1 } });
  });
});
