import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../core/chat.ts';
import { GeminiStreamDecoder } from './stream.ts';

const chunk = (parts: unknown[], extra: Record<string, unknown> = {}) => ({
  data: JSON.stringify({
    candidates: [{ content: { parts, role: 'model' }, index: 0, ...extra }],
    modelVersion: 'gemini-3-pro-preview',
    responseId: 'r1',
  }),
});

function decodeAll(messages: { data: string }[], translate = true) {
  const decoder = new GeminiStreamDecoder(translate);
  return messages.map((m) => decoder.decode({ ...m, event: undefined, id: undefined }));
}

const events = (messages: { data: string }[]): ChatEvent[] =>
  decodeAll(messages).flatMap((d) => d.events);

describe('GeminiStreamDecoder', () => {
  it('keeps a signature that sits on a part with no text, thought or not', () => {
    const out = events([
      chunk([{ text: 'Hello' }]),
      chunk([{ text: '', thoughtSignature: 'sig-on-empty-text' }], { finishReason: 'STOP' }),
    ]);
    expect(out).toContainEqual({
      type: 'delta',
      index: 1,
      delta: { type: 'signature', signature: 'sig-on-empty-text' },
    });
    const thought = events([
      chunk([{ text: 'Thinking…', thought: true }]),
      chunk([{ thought: true, thoughtSignature: 'sig-sibling' }]),
      chunk([{ functionCall: { name: 'f', args: {} } }], { finishReason: 'STOP' }),
    ]);
    expect(thought.filter((e) => e.type === 'delta')).toEqual([
      { type: 'delta', index: 0, delta: { type: 'thinking', text: 'Thinking…' } },
      { type: 'delta', index: 0, delta: { type: 'signature', signature: 'sig-sibling' } },
      { type: 'delta', index: 1, delta: { type: 'tool_input', json: '{}' } },
    ]);
  });

  it('puts a signature on a function call in a signed thinking block right before the call', () => {
    const out = events([
      chunk(
        [
          {
            functionCall: { name: 'check_flight', args: { flight: 'AA100' } },
            thoughtSignature: 'sig-A',
          },
        ],
        {
          finishReason: 'STOP',
        },
      ),
    ]);
    expect(out.map((e) => e.type)).toEqual([
      'start',
      'block_start',
      'delta',
      'block_stop',
      'block_start',
      'delta',
      'block_stop',
      'stop',
    ]);
    expect(out[4]).toMatchObject({
      block: { type: 'tool_call', name: 'check_flight', id: expect.stringMatching(/^call_/) },
    });
    expect(out.at(-1)).toEqual({ type: 'stop', reason: 'tool_use' });
  });

  it('tells the proxy what is content, what is usage and when the answer is complete', () => {
    const [first, last] = decodeAll(
      [
        chunk([{ text: 'Hi' }]),
        {
          data: JSON.stringify({
            candidates: [
              { content: { parts: [{ text: '!' }], role: 'model' }, finishReason: 'MAX_TOKENS' },
            ],
            usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 3 },
          }),
        },
      ],
      false,
    );
    expect(first).toMatchObject({ content: true, finished: false, forward: true, events: [] });
    expect(last).toMatchObject({
      content: true,
      finished: true,
      usage: { promptTokens: 5, completionTokens: 5, reasoningTokens: 3 },
    });
  });

  it.each(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'])(
    'maps %s to content_filter',
    (reason) => {
      expect(events([chunk([{ text: 'x' }], { finishReason: reason })]).at(-1)).toEqual({
        type: 'stop',
        reason: 'content_filter',
      });
    },
  );

  it('refuses an empty STOP with no output tokens, and an error object in the stream', () => {
    const [empty] = decodeAll([
      {
        data: JSON.stringify({
          candidates: [{ content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 0 },
        }),
      },
    ]);
    expect(empty!.failure).toMatchObject({
      kind: 'malformed',
      message: expect.stringContaining('empty candidate'),
    });
    const [error] = decodeAll([
      { data: '{"error":{"code":500,"message":"Internal","status":"INTERNAL"}}' },
    ]);
    expect(error!.failure).toMatchObject({ kind: 'stream-error' });
    const [junk] = decodeAll([{ data: 'not json' }]);
    expect(junk!.failure).toMatchObject({ kind: 'malformed' });
  });

  it('fails over a candidate that wrote nothing: a broken call, or a STOP after thinking alone', () => {
    for (const finishReason of ['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL']) {
      const [broken] = decodeAll([
        {
          data: JSON.stringify({
            candidates: [{ finishReason, finishMessage: 'Malformed function call: print(x' }],
            usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 12 },
          }),
        },
      ]);
      expect(broken!.failure).toMatchObject({
        kind: 'malformed',
        message: expect.stringContaining(finishReason),
      });
    }
    // Thoughts are not the answer: 40 thought tokens and no answer token is still empty.
    const [thinkingGaveUp] = decodeAll([
      {
        data: JSON.stringify({
          candidates: [{ content: { parts: [], role: 'model' }, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 0, thoughtsTokenCount: 40 },
        }),
      },
    ]);
    expect(thinkingGaveUp!.failure).toMatchObject({
      kind: 'malformed',
      message: expect.stringContaining('empty candidate'),
    });
    // A broken call after text already sent is no failure: the text was the answer.
    const after = decodeAll([
      chunk([{ text: 'Let me run it.' }]),
      chunk([], { finishReason: 'MALFORMED_FUNCTION_CALL' }),
    ]);
    expect(after.map((d) => d.failure)).toEqual([undefined, undefined]);
  });
});
