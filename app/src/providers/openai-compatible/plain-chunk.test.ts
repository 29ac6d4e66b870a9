import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { plainChunkText } from './plain-chunk.ts';

const chunk = (delta: unknown, finish: string | null = null, extra: object = {}) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });

/** What the full parse takes from a chunk it reads as a plain one. */
function parsedText(data: string): string {
  const json = JSON.parse(data) as { choices: { delta?: { content?: unknown } }[] };
  const content = json.choices[0]?.delta?.content;
  return typeof content === 'string' ? content : '';
}

describe('plainChunkText', () => {
  it('reads the text of a text delta, escapes and all, as JSON.parse does', () => {
    for (const text of ['tok0 ', '', 'a "quoted" \\ back\\slash\n', 'é 😀 \u2028', '{"usage":1}']) {
      const data = chunk({ content: text });
      expect(plainChunkText(data)).toBe(text);
      expect(plainChunkText(data)).toBe(parsedText(data));
    }
  });

  it('reads a role chunk, with or without empty content, as no text', () => {
    expect(plainChunkText(chunk({ role: 'assistant', content: '' }))).toBe('');
    expect(plainChunkText(chunk({ role: 'assistant' }))).toBe('');
  });

  it('leaves every chunk that says more than a text delta to the full parse', () => {
    const notPlain = [
      chunk({}, 'stop'),
      chunk({ content: 'x' }, 'length'),
      chunk({ content: 'x' }, null, { usage: { prompt_tokens: 1, completion_tokens: 1 } }),
      JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }),
      JSON.stringify({ error: { message: 'overloaded' } }),
      JSON.stringify({ type: 'error', message: 'overloaded' }),
      chunk({ reasoning_content: 'hm' }),
      chunk({ reasoning: 'hm' }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }),
      chunk({ function_call: { name: 'f' } }),
      chunk({ content: null }),
      chunk({ audio: { content: 'x' } }),
      // Two choices: two deltas.
      JSON.stringify({
        choices: [
          { index: 0, delta: { content: 'a' }, finish_reason: null },
          { index: 1, delta: { content: 'b' }, finish_reason: null },
        ],
      }),
      // logprobs carry a `content` of their own.
      chunk({ content: 'a' }).replace('"logprobs":null', '"logprobs":{"content":[]}'),
      '{"choices":[{"delta": {"content": "spaced"}, "finish_reason": null}]}',
      '{"choices":[{"delta":{"content":"cut',
      'not json',
      '[1]',
    ];
    for (const data of notPlain) expect(plainChunkText(data), data).toBeUndefined();
  });

  it('agrees with the full parse on every chunk of a recorded stream it takes', () => {
    const sse = readFileSync(
      new URL('../../../../test/fixtures/golden/openai/chat-stream-tools.sse', import.meta.url),
      'utf8',
    );
    const datas = sse
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => l.slice(6));
    let taken = 0;
    for (const data of datas) {
      const text = plainChunkText(data);
      if (text === undefined) continue;
      taken++;
      expect(text).toBe(parsedText(data));
    }
    expect(taken).toBeGreaterThan(0);
  });
});
