import { describe, expect, it } from 'vitest';
import { golden } from '../../../../test/fixtures/aws/bedrock-runtime.ts';
import type { ChatEvent } from '../../core/chat.ts';
import { ConverseStreamDecoder } from './converse-stream.ts';

const decodeAll = (frames: { event: string; body: unknown }[]) => {
  const decoder = new ConverseStreamDecoder('claude-sonnet-4-5');
  return frames.map((f) =>
    decoder.decode({ event: f.event, data: JSON.stringify(f.body), id: undefined }),
  );
};

describe('ConverseStreamDecoder', () => {
  it('reads the documented stream as neutral events: text opened by its first delta, a tool call, usage last', () => {
    const decoded = decodeAll(
      golden('converse-stream.events.json') as { event: string; body: unknown }[],
    );
    const events: ChatEvent[] = decoded.flatMap((d) => d.events);
    expect(events.map((e) => e.type)).toEqual([
      'start',
      'block_start',
      'delta',
      'delta',
      'block_stop',
      'block_start',
      'delta',
      'delta',
      'block_stop',
      'stop',
      'usage',
    ]);
    expect(events[1]).toEqual({ type: 'block_start', index: 0, block: { type: 'text' } });
    expect(events[5]).toEqual({
      type: 'block_start',
      index: 1,
      block: { type: 'tool_call', id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'top_song' },
    });
    expect(events.at(-2)).toEqual({ type: 'stop', reason: 'tool_use' });
    expect(events.at(-1)).toEqual({
      type: 'usage',
      usage: { promptTokens: 130, completionTokens: 20, cacheReadTokens: 100 },
    });
    expect(decoded.map((d) => d.text ?? '').join('')).toBe('Here are 3 pop songs.');
    expect(decoded.findIndex((d) => d.finished)).toBe(8);
    expect(decoded.at(-1)!.last).toBe(true);
  });

  it('opens reasoning blocks and keeps their signature', () => {
    const events = decodeAll([
      {
        event: 'contentBlockDelta',
        body: { contentBlockIndex: 0, delta: { reasoningContent: { text: 'Hmm.' } } },
      },
      {
        event: 'contentBlockDelta',
        body: { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } },
      },
      { event: 'contentBlockStop', body: { contentBlockIndex: 0 } },
    ]).flatMap((d) => d.events);
    expect(events).toEqual([
      { type: 'start', id: expect.stringMatching(/^msg_bdrk_/), model: 'claude-sonnet-4-5' },
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'delta', index: 0, delta: { type: 'thinking', text: 'Hmm.' } },
      { type: 'delta', index: 0, delta: { type: 'signature', signature: 'sig' } },
      { type: 'block_stop', index: 0 },
    ]);
  });

  it('an exception event is a stream error', () => {
    const [d] = decodeAll([
      {
        event: 'error',
        body: { __type: 'ModelStreamErrorException', message: 'The model stopped.' },
      },
    ]);
    expect(d!.failure).toMatchObject({
      kind: 'stream-error',
      error: { message: 'The model stopped.' },
    });
  });
});
