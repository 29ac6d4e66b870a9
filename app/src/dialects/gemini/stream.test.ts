import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import { sdkChunks, sdkSummary } from '../../../../test/fixtures/gemini-sse.ts';
import { googleStreamError } from './errors.ts';
import { readParts } from './parts.ts';
import { renderGenerateContent } from './response.ts';
import { GeminiStreamEncoder } from './stream.ts';
import { RelayError } from '../../errors.ts';

const encode = (events: ChatEvent[], prompt = 12) => {
  const encoder = new GeminiStreamEncoder('client-model', prompt);
  return events.map((e) => encoder.encode(e)).join('') + encoder.end();
};

describe('GeminiStreamEncoder', () => {
  it('writes text and thoughts as they come, each call whole, and the signature on the call after its thought', async () => {
    const frames = encode([
      { type: 'start', id: 'msg_1' },
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'delta', index: 0, delta: { type: 'thinking', text: 'Need the weather.' } },
      { type: 'delta', index: 0, delta: { type: 'signature', signature: 'EqQB' } },
      { type: 'block_stop', index: 0 },
      {
        type: 'block_start',
        index: 1,
        block: { type: 'tool_call', id: 'toolu_1', name: 'get_weather' },
      },
      { type: 'delta', index: 1, delta: { type: 'tool_input', json: '{"ci' } },
      { type: 'delta', index: 1, delta: { type: 'tool_input', json: 'ty":"Paris"}' } },
      { type: 'block_stop', index: 1 },
      { type: 'stop', reason: 'tool_use' },
      {
        type: 'usage',
        usage: { promptTokens: 40, completionTokens: 20, reasoningTokens: 8, cacheReadTokens: 10 },
      },
    ]);
    const chunks = await sdkChunks(frames);
    const parts = chunks.flatMap((c) => c.candidates![0]!.content!.parts!);
    // On the call, as Gemini writes it: Gemini CLI drops thought parts, not calls.
    expect(parts.slice(0, 2)).toEqual([
      { text: 'Need the weather.', thought: true },
      {
        functionCall: { id: 'toolu_1', name: 'get_weather', args: { city: 'Paris' } },
        thoughtSignature: 'EqQB',
      },
    ]);
    // The JSON answer has the same parts.
    expect(
      renderGenerateContent(
        {
          id: 'msg_1',
          model: 'm',
          content: [
            { type: 'thinking', text: 'Need the weather.', signature: 'EqQB' },
            { type: 'tool_call', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
          stopReason: 'tool_use',
        },
        'client-model',
      ).candidates[0]!.content.parts,
    ).toEqual(parts.slice(0, 2));
    // A client that sends its turn back as it got it sends one signed thought and the call.
    expect(readParts(parts, { call: (id) => id, result: (id) => id })).toEqual([
      { type: 'thinking', text: 'Need the weather.', signature: 'EqQB' },
      { type: 'tool_call', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(await sdkSummary(frames)).toEqual({
      text: '',
      thoughts: 'Need the weather.',
      calls: [{ name: 'get_weather', args: { city: 'Paris' } }],
      signatures: ['EqQB'],
      finishReason: 'STOP',
      usage: {
        promptTokenCount: 40,
        candidatesTokenCount: 12,
        thoughtsTokenCount: 8,
        cachedContentTokenCount: 10,
        totalTokenCount: 60,
      },
    });
  });

  it('estimates usage when the upstream reported none, and maps the stop', async () => {
    const summary = await sdkSummary(
      encode([
        { type: 'start' },
        { type: 'block_start', index: 0, block: { type: 'text' } },
        { type: 'delta', index: 0, delta: { type: 'text', text: 'A long enough answer.' } },
        { type: 'stop', reason: 'max_tokens' },
      ]),
    );
    expect(summary.text).toBe('A long enough answer.');
    expect(summary.finishReason).toBe('MAX_TOKENS');
    expect(summary.usage).toMatchObject({ promptTokenCount: 12 });
    expect(summary.usage!.candidatesTokenCount).toBeGreaterThan(0);
  });

  it('ends a broken stream with an error event the SDK raises', async () => {
    const frames =
      encode([{ type: 'start' }]).split('\n\n')[0] +
      '\n\n' +
      googleStreamError(new RelayError(502, 'upstream_error', 'It broke.'), 'req_1');
    await expect(sdkChunks(frames)).rejects.toThrow(/It broke/);
  });

  it('puts a signature with no part after it on the last chunk, and keeps two apart', async () => {
    const frames = encode([
      { type: 'start' },
      { type: 'block_start', index: 0, block: { type: 'thinking' } },
      { type: 'delta', index: 0, delta: { type: 'signature', signature: 'one' } },
      { type: 'block_start', index: 1, block: { type: 'thinking' } },
      { type: 'delta', index: 1, delta: { type: 'signature', signature: 'two' } },
      { type: 'stop', reason: 'end_turn' },
    ]);
    const parts = (await sdkChunks(frames)).flatMap((c) => c.candidates![0]!.content!.parts!);
    expect(parts).toEqual([
      { text: '', thoughtSignature: 'one' },
      { text: '', thoughtSignature: 'two' },
    ]);
  });
});
