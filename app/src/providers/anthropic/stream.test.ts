import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import { sseEvents } from '../../streaming/sse.ts';
import type { EventSourceMessage } from '../../streaming/sse.ts';
import type { DecodedEvent } from '../types.ts';
import { anthropicToolName, toolNameMap } from './names.ts';
import { AnthropicStreamDecoder } from './stream.ts';

const golden = (name: string) =>
  readFileSync(
    new URL(`../../../../test/fixtures/golden/anthropic/${name}`, import.meta.url),
    'utf8',
  );

async function* once(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

async function messages(text: string): Promise<EventSourceMessage[]> {
  const out: EventSourceMessage[] = [];
  for await (const m of sseEvents(once(text))) out.push(m);
  return out;
}

async function decodeAll(
  text: string,
  translate: boolean,
  decoder = new AnthropicStreamDecoder(toolNameMap(undefined), translate),
) {
  const decoded: DecodedEvent[] = [];
  for (const m of await messages(text)) decoded.push(decoder.decode(m));
  return decoded;
}

const neutral = (decoded: DecodedEvent[]): ChatEvent[] => decoded.flatMap((d) => d.events);

/** An Anthropic stream as the API sends it: [event, data] pairs. */
const sse = (events: [string, Record<string, unknown>][]) =>
  events
    .map(
      ([event, data]) => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`,
    )
    .join('');

const start = (
  usage: Record<string, unknown> = { input_tokens: 10, output_tokens: 1 },
): [string, Record<string, unknown>] => [
  'message_start',
  {
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-opus-4-8',
      content: [],
      usage,
    },
  },
];

describe('AnthropicStreamDecoder, pass-through', () => {
  it('forwards every message, ping included, and finishes at message_stop', async () => {
    const decoded = await decodeAll(golden('stream-text.sse'), false);
    expect(decoded.every((d) => d.forward)).toBe(true);
    expect(decoded.map((d) => d.finished)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(neutral(decoded)).toEqual([]);
  });

  it('forwards thinking and its signature_delta as they came', async () => {
    const raw = golden('stream-thinking.sse');
    const decoded = await decodeAll(raw, false);
    expect(decoded.every((d) => d.forward && !d.failure)).toBe(true);
    const signature = (await messages(raw)).find((m) => m.data.includes('signature_delta'))!;
    expect(JSON.parse(signature.data).delta.signature).toBe('EqQBCgIYAhIM1gbcDa9GJwZA2b...');
  });

  it('sees content only in text, thinking and input deltas with text, and in tool_use starts', async () => {
    const thinking = await decodeAll(golden('stream-thinking.sse'), false);
    // start, thinking block start, 2 thinking deltas, signature, stop, text start, text, stop, delta, stop
    expect(thinking.map((d) => d.content)).toEqual([
      false,
      false,
      true,
      true,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    const tools = await decodeAll(golden('stream-tool-use.sse'), false);
    // [8] is the tool_use start; the empty first input_json_delta after it carries nothing.
    expect(tools[8]!.content).toBe(true);
    expect(tools[9]!.content).toBe(false);
    expect(tools.map((d) => d.text ?? '').join('')).toBe(
      'Okay, let\'s check the weather for San Francisco, CA:{"location": "San Francisco, CA", "unit": "fahrenheit"}',
    );
  });

  it('merges usage from message_start and message_delta, cache parts included', async () => {
    const decoded = await decodeAll(
      sse([
        start({
          input_tokens: 50,
          cache_creation_input_tokens: 248,
          cache_read_input_tokens: 100_000,
          cache_creation: { ephemeral_5m_input_tokens: 148, ephemeral_1h_input_tokens: 100 },
          output_tokens: 1,
        }),
        [
          'message_delta',
          {
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            usage: { output_tokens: 503 },
          },
        ],
        ['message_stop', {}],
      ]),
      false,
    );
    expect(decoded[0]!.usage).toEqual({
      promptTokens: 100_298,
      completionTokens: 1,
      cacheReadTokens: 100_000,
      cacheWrite5mTokens: 148,
      cacheWrite1hTokens: 100,
    });
    expect(decoded[1]!.usage).toEqual({ ...decoded[0]!.usage, completionTokens: 503 });
  });

  it('takes the input counts a message_delta reports over message_start’s', async () => {
    const decoded = await decodeAll(
      sse([
        start({ input_tokens: 0, output_tokens: 0 }),
        [
          'message_delta',
          {
            delta: { stop_reason: 'end_turn' },
            usage: {
              input_tokens: 900,
              cache_read_input_tokens: 100,
              cache_creation_input_tokens: null,
              output_tokens: 20,
            },
          },
        ],
      ]),
      false,
    );
    expect(decoded[1]!.usage).toEqual({
      promptTokens: 1000,
      completionTokens: 20,
      cacheReadTokens: 100,
    });
  });

  it('turns an error event into a failure it does not forward', async () => {
    const decoded = await decodeAll(golden('stream-error.sse'), false);
    expect(decoded[1]).toMatchObject({
      forward: false,
      finished: false,
      failure: { kind: 'stream-error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
  });

  it('reports an event that is not JSON as malformed', () => {
    const decoder = new AnthropicStreamDecoder(toolNameMap(undefined), false);
    expect(
      decoder.decode({ event: 'content_block_delta', data: '{oops', id: undefined }),
    ).toMatchObject({
      forward: false,
      failure: { kind: 'malformed' },
    });
  });
});

describe('AnthropicStreamDecoder, translating', () => {
  it('turns thinking → text into neutral events with the signature kept', async () => {
    expect(neutral(await decodeAll(golden('stream-thinking.sse'), true))).toEqual([
      { type: 'start', id: 'msg_01...', model: 'claude-opus-4-8' },
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      {
        type: 'delta',
        index: 0,
        delta: {
          type: 'thinking',
          text: 'I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147',
        },
      },
      {
        type: 'delta',
        index: 0,
        delta: {
          type: 'thinking',
          text: '\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\n\nSo GCD(1071, 462) = 21',
        },
      },
      {
        type: 'delta',
        index: 0,
        delta: { type: 'signature', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b...' },
      },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      {
        type: 'delta',
        index: 1,
        delta: { type: 'text', text: 'The greatest common divisor of 1071 and 462 is **21**.' },
      },
      { type: 'block_stop', index: 1 },
      { type: 'stop', reason: 'end_turn', stopSequence: null },
    ]);
  });

  it('turns text → tool_use × 2 into neutral events, input pieces kept and names mapped back', async () => {
    const long = `mcp__calendar__${'create_recurring_event_with_attendees_'.repeat(2)}`;
    const names = toolNameMap({
      model: 'm',
      system: [],
      messages: [],
      tools: [{ name: long, inputSchema: {} }],
      stop: [],
      stream: true,
    });
    const events = neutral(
      await decodeAll(
        sse([
          start(),
          ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
          ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Two calls.' } }],
          ['content_block_stop', { index: 0 }],
          [
            'content_block_start',
            {
              index: 1,
              content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} },
            },
          ],
          [
            'content_block_delta',
            { index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
          ],
          [
            'content_block_delta',
            { index: 1, delta: { type: 'input_json_delta', partial_json: ' "Oslo"}' } },
          ],
          ['content_block_stop', { index: 1 }],
          [
            'content_block_start',
            {
              index: 2,
              content_block: {
                type: 'tool_use',
                id: 'toolu_b',
                name: anthropicToolName(long),
                input: {},
              },
            },
          ],
          [
            'content_block_delta',
            { index: 2, delta: { type: 'input_json_delta', partial_json: '{}' } },
          ],
          ['content_block_stop', { index: 2 }],
          [
            'message_delta',
            {
              delta: { stop_reason: 'tool_use', stop_sequence: null },
              usage: { output_tokens: 40 },
            },
          ],
          ['message_stop', {}],
        ]),
        true,
        new AnthropicStreamDecoder(names, true),
      ),
    );
    expect(
      events
        .filter((e) => e.type === 'block_start')
        .map((e) => e.type === 'block_start' && e.block),
    ).toEqual([
      { type: 'text' },
      { type: 'tool_call', id: 'toolu_a', name: 'get_weather' },
      { type: 'tool_call', id: 'toolu_b', name: long },
    ]);
    const input = events
      .filter((e): e is ChatEvent & { type: 'delta' } => e.type === 'delta' && e.index === 1)
      .map((e) => (e.delta.type === 'tool_input' ? e.delta.json : ''))
      .join('');
    expect(JSON.parse(input)).toEqual({ city: 'Oslo' });
    expect(events.at(-2)).toEqual({
      type: 'usage',
      usage: { promptTokens: 10, completionTokens: 40 },
    });
    expect(events.at(-1)).toEqual({ type: 'stop', reason: 'tool_use', stopSequence: null });
  });

  it('gives skipped server blocks no neutral events and numbers the rest from 0', async () => {
    const events = neutral(
      await decodeAll(
        sse([
          start(),
          [
            'content_block_start',
            {
              index: 0,
              content_block: {
                type: 'server_tool_use',
                id: 'srvtoolu_1',
                name: 'web_search',
                input: {},
              },
            },
          ],
          [
            'content_block_delta',
            { index: 0, delta: { type: 'input_json_delta', partial_json: '{"query":"x"}' } },
          ],
          ['content_block_stop', { index: 0 }],
          [
            'content_block_start',
            {
              index: 1,
              content_block: {
                type: 'web_search_tool_result',
                tool_use_id: 'srvtoolu_1',
                content: [],
              },
            },
          ],
          ['content_block_stop', { index: 1 }],
          [
            'content_block_start',
            { index: 2, content_block: { type: 'redacted_thinking', data: 'enc' } },
          ],
          ['content_block_stop', { index: 2 }],
          ['content_block_start', { index: 3, content_block: { type: 'text', text: 'Found.' } }],
          ['content_block_stop', { index: 3 }],
          ['message_stop', {}],
        ]),
        true,
      ),
    );
    expect(events.slice(1)).toEqual([
      { type: 'block_start', index: 0, block: { type: 'redacted_thinking', data: 'enc' } },
      { type: 'block_stop', index: 0 },
      { type: 'block_start', index: 1, block: { type: 'text' } },
      // Text a start already carries is its first delta.
      { type: 'delta', index: 1, delta: { type: 'text', text: 'Found.' } },
      { type: 'block_stop', index: 1 },
      { type: 'stop', reason: null, stopSequence: null },
    ]);
  });

  it('keeps each decoder’s blocks and usage its own when streams interleave', async () => {
    const a = new AnthropicStreamDecoder(toolNameMap(undefined), true);
    const b = new AnthropicStreamDecoder(toolNameMap(undefined), true);
    const aMessages = await messages(golden('stream-tool-use.sse'));
    const bMessages = await messages(golden('stream-text.sse'));
    const out: { a: DecodedEvent[]; b: DecodedEvent[] } = { a: [], b: [] };
    for (let i = 0; i < Math.max(aMessages.length, bMessages.length); i++) {
      if (aMessages[i]) out.a.push(a.decode(aMessages[i]!));
      if (bMessages[i]) out.b.push(b.decode(bMessages[i]!));
    }
    expect(neutral(out.b).filter((e) => e.type === 'block_start')).toEqual([
      { type: 'block_start', index: 0, block: { type: 'text' } },
    ]);
    expect(neutral(out.a).filter((e) => e.type === 'block_start')).toHaveLength(2);
    expect(out.b.at(-2)!.usage).toEqual({ promptTokens: 25, completionTokens: 15 });
    expect(out.a.at(-2)!.usage).toEqual({ promptTokens: 472, completionTokens: 89 });
  });
});
