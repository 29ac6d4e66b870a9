import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import {
  checkMessagesStream,
  sdkFinalMessage,
  wireEvents,
} from '../../../../test/fixtures/anthropic-sse.ts';
import { AnthropicStreamEncoder } from './stream.ts';

const usage = {
  promptTokens: 1_000,
  completionTokens: 120,
  cacheReadTokens: 600,
  cacheWrite5mTokens: 200,
  cacheWrite1hTokens: 100,
  reasoningTokens: 40,
};

function encode(events: readonly ChatEvent[], estimate = 321): string {
  const encoder = new AnthropicStreamEncoder('claude-client-name', estimate);
  return events.map((e) => encoder.encode(e)).join('') + encoder.end();
}

const toolCall = (index: number, id: string, name: string, pieces: string[]): ChatEvent[] => [
  { type: 'block_start', index, block: { type: 'tool_call', id, name } },
  ...pieces.map((json): ChatEvent => ({
    type: 'delta',
    index,
    delta: { type: 'tool_input', json },
  })),
  { type: 'block_stop', index },
];

/** thinking → text → tool_use × 2, as a reasoning upstream of another dialect streams it. */
const fullTurn: ChatEvent[] = [
  { type: 'start', id: 'chatcmpl-9', model: 'upstream-name' },
  { type: 'block_start', index: 0, block: { type: 'thinking' } },
  { type: 'delta', index: 0, delta: { type: 'thinking', text: 'The user wants ' } },
  { type: 'delta', index: 0, delta: { type: 'thinking', text: 'two lookups.' } },
  { type: 'delta', index: 0, delta: { type: 'signature', signature: 'sig-abc' } },
  { type: 'block_stop', index: 0 },
  { type: 'block_start', index: 1, block: { type: 'text' } },
  { type: 'delta', index: 1, delta: { type: 'text', text: 'Checking both.' } },
  { type: 'block_stop', index: 1 },
  ...toolCall(2, 'call_1', 'get_weather', ['{"loc', 'ation": "Par', 'is"}']),
  ...toolCall(3, 'call_2', 'get_time', ['{"tz":', ' "CET"}']),
  { type: 'stop', reason: 'end_turn' },
  { type: 'usage', usage },
];

describe('AnthropicStreamEncoder', () => {
  it('writes thinking → text → tool_use × 2 as a well-formed stream the SDK accumulates exactly', async () => {
    const frames = encode(fullTurn);
    checkMessagesStream(frames);
    const message = await sdkFinalMessage(frames);
    expect(message.id).toBe('msg_chatcmpl-9');
    expect(message.model).toBe('claude-client-name');
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'The user wants two lookups.', signature: 'sig-abc' },
      { type: 'text', text: 'Checking both.' },
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_time', input: { tz: 'CET' } },
    ]);
    // The upstream said "stop", but the answer calls tools: the client must run them.
    expect(message.stop_reason).toBe('tool_use');
  });

  it('puts the final usage, cache parts included, in message_delta', async () => {
    const frames = encode(fullTurn);
    const delta = wireEvents(frames).find((e) => e.event === 'message_delta');
    expect(delta?.data.usage).toEqual({
      input_tokens: 100,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 600,
      cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 100 },
      output_tokens: 120,
      output_tokens_details: { thinking_tokens: 40 },
    });
    const message = await sdkFinalMessage(frames);
    expect(message.usage).toMatchObject({
      input_tokens: 100,
      cache_read_input_tokens: 600,
      cache_creation_input_tokens: 300,
      output_tokens: 120,
    });
  });

  it('opens with the thinking block when the answer starts thinking (no text block forced first)', () => {
    const events = wireEvents(encode(fullTurn));
    const starts = events.filter((e) => e.event === 'content_block_start');
    expect(starts.map((e) => (e.data.content_block as { type: string }).type)).toEqual([
      'thinking',
      'text',
      'tool_use',
      'tool_use',
    ]);
    expect(starts.map((e) => e.data.index)).toEqual([0, 1, 2, 3]);
  });

  it('writes no empty text block for a text block announced but never filled', async () => {
    const frames = encode([
      { type: 'start' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'delta', index: 0, delta: { type: 'text', text: '' } },
      { type: 'block_stop', index: 0 },
      ...toolCall(1, 'call_1', 'lookup', ['{}']),
      { type: 'stop', reason: 'tool_use' },
    ]);
    checkMessagesStream(frames);
    const message = await sdkFinalMessage(frames);
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'lookup', input: {} },
    ]);
  });

  it('numbers its blocks 0, 1, 2 whatever indexes the upstream used, and never stops a block it did not open', () => {
    const frames = encode([
      { type: 'start' },
      { type: 'block_stop', index: 9 },
      { type: 'block_start', index: 4, block: { type: 'text' } },
      { type: 'delta', index: 4, delta: { type: 'text', text: 'a' } },
      { type: 'block_stop', index: 4 },
      { type: 'block_stop', index: 4 },
      ...toolCall(7, 'call_x', 'f', ['{}']),
      // The same index started twice: the first block must still be closed.
      { type: 'block_start', index: 8, block: { type: 'tool_call', id: 'call_y', name: 'g' } },
      { type: 'block_start', index: 8, block: { type: 'tool_call', id: 'call_z', name: 'h' } },
      { type: 'block_stop', index: 8 },
      // A delta for a block nobody started opens one rather than being lost.
      { type: 'delta', index: 12, delta: { type: 'text', text: 'b' } },
      { type: 'stop', reason: 'end_turn' },
    ]);
    const events = checkMessagesStream(frames);
    const indexes = events
      .filter((e) => e.event === 'content_block_start')
      .map((e) => e.data.index);
    expect(indexes).toEqual([0, 1, 2, 3, 4]);
  });

  it('starts with real input counts: the upstream’s when it gave them, else the relay’s estimate', () => {
    const start = (frames: string) =>
      (wireEvents(frames)[0]!.data.message as { usage: Record<string, unknown> }).usage;
    expect(start(encode([{ type: 'start' }, { type: 'stop', reason: 'end_turn' }], 321))).toEqual({
      input_tokens: 321,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 0,
    });
    expect(start(encode([{ type: 'start', usage }]))).toMatchObject({
      input_tokens: 100,
      cache_read_input_tokens: 600,
      cache_creation_input_tokens: 300,
    });
  });

  it('keeps streamed tool input whole however it is cut', async () => {
    const input = { path: 'src/app.ts', edits: [{ from: 1, to: 2, text: 'héllo "world"' }] };
    const json = JSON.stringify(input);
    const pieces = json.match(/.{1,3}/gs) ?? [];
    const message = await sdkFinalMessage(
      encode([
        { type: 'start' },
        ...toolCall(0, 'toolu_1', 'edit', pieces),
        { type: 'stop', reason: 'tool_use' },
      ]),
    );
    expect(message.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'edit', input }]);
  });

  it('keeps a thinking block that carries only its signature (display: omitted)', async () => {
    const message = await sdkFinalMessage(
      encode([
        { type: 'start' },
        { type: 'block_start', index: 0, block: { type: 'thinking' } },
        { type: 'delta', index: 0, delta: { type: 'signature', signature: 'EosnCkYICxIM' } },
        { type: 'block_stop', index: 0 },
        { type: 'block_start', index: 1, block: { type: 'redacted_thinking', data: 'opaque' } },
        { type: 'block_stop', index: 1 },
        { type: 'block_start', index: 2, block: { type: 'text' } },
        { type: 'delta', index: 2, delta: { type: 'text', text: '12,231' } },
        { type: 'stop', reason: 'end_turn' },
      ]),
    );
    expect(message.content).toEqual([
      { type: 'thinking', thinking: '', signature: 'EosnCkYICxIM' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: '12,231' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('closes what is open and still ends properly when the upstream never said why it stopped', () => {
    const frames = encode([
      { type: 'start' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'delta', index: 0, delta: { type: 'text', text: 'cut' } },
    ]);
    const events = checkMessagesStream(frames);
    const delta = events.find((e) => e.event === 'message_delta')!;
    expect(delta.data.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    // No usage from upstream: the output is estimated from what was written.
    expect((delta.data.usage as { output_tokens: number }).output_tokens).toBeGreaterThan(0);
  });

  it('maps other dialects’ stop reasons to Anthropic’s', () => {
    const reason = (r: ChatEvent & { type: 'stop' }) =>
      wireEvents(encode([{ type: 'start' }, r])).find((e) => e.event === 'message_delta')!.data
        .delta as {
        stop_reason: string;
        stop_sequence: string | null;
      };
    expect(reason({ type: 'stop', reason: 'content_filter' }).stop_reason).toBe('refusal');
    expect(reason({ type: 'stop', reason: 'max_tokens' }).stop_reason).toBe('max_tokens');
    expect(reason({ type: 'stop', reason: 'context_window_exceeded' }).stop_reason).toBe(
      'model_context_window_exceeded',
    );
    expect(reason({ type: 'stop', reason: 'stop_sequence', stopSequence: '###' })).toEqual({
      stop_reason: 'stop_sequence',
      stop_sequence: '###',
    });
  });

  it('keeps two interleaved streams apart: each encoder numbers and counts only its own', async () => {
    const a = new AnthropicStreamEncoder('model-a', 10);
    const b = new AnthropicStreamEncoder('model-b', 20);
    const aEvents = fullTurn;
    const bEvents: ChatEvent[] = [
      { type: 'start', id: 'b' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'delta', index: 0, delta: { type: 'text', text: 'only text' } },
      { type: 'block_stop', index: 0 },
      { type: 'stop', reason: 'end_turn' },
    ];
    let outA = '';
    let outB = '';
    for (let i = 0; i < Math.max(aEvents.length, bEvents.length); i++) {
      if (aEvents[i]) outA += a.encode(aEvents[i]!);
      if (bEvents[i]) outB += b.encode(bEvents[i]!);
    }
    outB += b.end();
    outA += a.end();
    checkMessagesStream(outA);
    checkMessagesStream(outB);
    const messageB = await sdkFinalMessage(outB);
    expect(messageB.content).toEqual([{ type: 'text', text: 'only text' }]);
    expect(messageB.stop_reason).toBe('end_turn');
    expect(messageB.usage.input_tokens).toBe(20);
    expect((await sdkFinalMessage(outA)).content).toHaveLength(4);
  });
});
