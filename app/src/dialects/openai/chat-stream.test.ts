import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import { OpenAiChatEncoder } from './chat-stream.ts';

/** The official SDK reading what the encoder wrote, through its own SSE parser and accumulator. */
function sdkReading(sse: string): OpenAI {
  return new OpenAI({
    apiKey: 'sk-test',
    baseURL: 'http://relay.invalid/v1',
    maxRetries: 0,
    fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }),
  });
}

const THINK_TEXT_TOOLS: ChatEvent[] = [
  {
    type: 'start',
    id: 'msg_01',
    model: 'claude-x',
    usage: { promptTokens: 20, completionTokens: 0 },
  },
  { type: 'block_start', index: 0, block: { type: 'thinking' } },
  { type: 'delta', index: 0, delta: { type: 'thinking', text: 'Two cities.' } },
  { type: 'delta', index: 0, delta: { type: 'signature', signature: 'sig' } },
  { type: 'block_stop', index: 0 },
  { type: 'block_start', index: 1, block: { type: 'text' } },
  { type: 'delta', index: 1, delta: { type: 'text', text: 'Checking.' } },
  { type: 'block_stop', index: 1 },
  { type: 'block_start', index: 2, block: { type: 'tool_call', id: 'toolu_1', name: 'weather' } },
  { type: 'delta', index: 2, delta: { type: 'tool_input', json: '{"city":' } },
  { type: 'delta', index: 2, delta: { type: 'tool_input', json: '"Paris"}' } },
  { type: 'block_stop', index: 2 },
  { type: 'block_start', index: 3, block: { type: 'tool_call', id: 'toolu_2', name: 'weather' } },
  { type: 'delta', index: 3, delta: { type: 'tool_input', json: '{"city":"Rome"}' } },
  { type: 'block_stop', index: 3 },
  { type: 'stop', reason: 'tool_use' },
  { type: 'usage', usage: { promptTokens: 20, completionTokens: 30, cacheReadTokens: 8 } },
];

const encode = (events: ChatEvent[], includeUsage: boolean) => {
  const encoder = new OpenAiChatEncoder({
    model: 'my-alias',
    created: 1_700_000_000,
    includeUsage,
  });
  return events.map((e) => encoder.encode(e)).join('') + encoder.end();
};

describe('OpenAiChatEncoder', () => {
  it('writes chunks the openai SDK accumulates into the same answer', async () => {
    const sse = encode(THINK_TEXT_TOOLS, true);
    const stream = sdkReading(sse).chat.completions.stream({ model: 'my-alias', messages: [] });
    const final = await stream.finalChatCompletion();
    expect(final.model).toBe('my-alias');
    expect(final.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        content: 'Checking.',
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris"}' },
          },
          {
            id: 'toolu_2',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Rome"}' },
          },
        ],
      },
    });
    expect(final.usage).toMatchObject({
      prompt_tokens: 20,
      completion_tokens: 30,
      total_tokens: 50,
      prompt_tokens_details: { cached_tokens: 8 },
    });
    expect(sse).toContain('"reasoning_content":"Two cities."');
    // The signed block, whole, for the client to send back on its next turn.
    expect(
      (final.choices[0]!.message as unknown as Record<string, unknown>).thinking_blocks,
    ).toEqual([{ type: 'thinking', thinking: 'Two cities.', signature: 'sig' }]);
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('sends the usage chunk only to a client that asked for it', () => {
    expect(encode(THINK_TEXT_TOOLS, false)).not.toContain('"usage"');
    expect(encode(THINK_TEXT_TOOLS, true)).toContain('"choices":[],"usage"');
  });

  it('says stop for a plain answer, length for one cut at max tokens', async () => {
    const plain = (reason: 'end_turn' | 'max_tokens'): ChatEvent[] => [
      { type: 'start' },
      { type: 'block_start', index: 0, block: { type: 'text' } },
      { type: 'delta', index: 0, delta: { type: 'text', text: 'Hi' } },
      { type: 'block_stop', index: 0 },
      { type: 'stop', reason },
    ];
    for (const [reason, finish] of [
      ['end_turn', 'stop'],
      ['max_tokens', 'length'],
    ] as const) {
      const final = await sdkReading(encode(plain(reason), false))
        .chat.completions.stream({ model: 'm', messages: [] })
        .finalChatCompletion();
      expect(final.choices[0]).toMatchObject({ finish_reason: finish, message: { content: 'Hi' } });
    }
  });
});
