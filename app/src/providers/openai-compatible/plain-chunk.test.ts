import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlainChunkReader, plainChunkText } from './plain-chunk.ts';
import { OpenAiChatDecoder } from './stream.ts';

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

  it('reads a text delta whose other keys are null, as OpenAI (usage, with include_usage, which the relay always asks for), DeepSeek and OpenRouter (reasoning) send every one', () => {
    const openAi = chunk({ content: 'Hi' }, null, { usage: null });
    const deepSeek = chunk({ content: 'Hi', reasoning_content: null });
    const openRouter = chunk({ content: 'Hi', reasoning: null, tool_calls: null }, null, {
      usage: null,
    });
    for (const data of [openAi, deepSeek, openRouter])
      expect(plainChunkText(data), data).toBe('Hi');
    expect(plainChunkText(chunk({ role: 'assistant', content: '' }, null, { usage: null }))).toBe(
      '',
    );
  });

  it('reads a key spaced from its colon (a spaced value goes to the full parse), and tells `content` from the `reasoning_content` it ends', () => {
    const spaced =
      '{"choices":[{"delta":{"content":"Hi"},"finish_reason" \t:null}],"usage"\n:null}';
    expect(plainChunkText(spaced)).toBe('Hi');
    expect(plainChunkText(spaced)).toBe(parsedText(spaced));
    expect(
      plainChunkText('{"choices":[{"delta":{"reasoning_content" : "hm"},"finish_reason":null}]}'),
    ).toBeUndefined();
    expect(
      plainChunkText(
        '{"choices":[{"delta":{"content":"a"},"finish_reason":null}],"usage" : {"total_tokens":1}}',
      ),
    ).toBeUndefined();
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
      // The delta's text after a null one of the same name: JSON.parse keeps the last.
      chunk({ content: 'a' }).replace('"content":"a"', '"content":"a","content":null'),
      // Content beside the delta, not in it.
      '{"choices":[{"content":"x","delta":{},"finish_reason":null}]}',
    ];
    for (const data of notPlain) expect(plainChunkText(data), data).toBeUndefined();
  });

  it('leaves a chunk with a backslash outside its text to the full parse: a key spelt with escapes is still that key', () => {
    // `\\u0063ontent` in a key is written as an escaped backslash by JSON.stringify; made a
    // JSON escape here, the key JSON.parse reads is `content`.
    const escape = (data: string) => data.replaceAll('\\\\u', '\\u');
    const escapedKeys = [
      escape(chunk({ '\\u0063ontent': 'hi' })),
      escape(chunk({ content: 'hi' }, null, { '\\u0075sage': { prompt_tokens: 1 } })),
      escape(chunk({ content: 'hi' }, null, { '\\u0065rror': { message: 'overloaded' } })),
      escape(chunk({ content: 'hi', 'tool\\u005fcalls': [{ index: 0, function: {} }] })),
      escape(chunk({ role: 'assistant', '\\u0063ontent': 'hi' })),
      chunk({ 'x"content': 'hi' }),
    ];
    expect(JSON.parse(escapedKeys[0]!)).toMatchObject({ choices: [{ delta: { content: 'hi' } }] });
    for (const data of escapedKeys) expect(plainChunkText(data), data).toBeUndefined();
    // Escapes inside the text itself are read, as before.
    const text = escape(chunk({ content: '\\u4f60 "q"\n' }));
    expect(plainChunkText(text)).toBe('\u4f60 "q"\n');
    expect(plainChunkText(text)).toBe(parsedText(text));
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

describe('the pass-through decoder, with and without the plain-chunk reading', () => {
  const usage = { prompt_tokens: 1, completion_tokens: 2 };
  /** A chunk with one choice: its delta, finish_reason, the choice's other keys, the chunk's. */
  const one = (delta: unknown, finish: string | null, choice: object = {}, top: object = {}) =>
    chunk(delta, finish, {
      choices: [{ index: 0, delta, finish_reason: finish, ...choice }],
      ...top,
    });
  const logprobs = {
    content: [{ token: 'Hi', logprob: -0.1, bytes: [72, 105], top_logprobs: [] }],
  };
  /** Chunks as real upstreams send them. */
  const datas = [
    // OpenAI with stream_options.include_usage (the relay always asks): usage null on every chunk.
    one({ content: 'Hi' }, null, { logprobs: null }, { usage: null }),
    one({ role: 'assistant', content: '', refusal: null }, null, {}, { usage: null }),
    one({ content: 'x' }, null, {}, { usage: null, service_tier: 'default', obfuscation: 'ab' }),
    one({}, 'stop', {}, { usage: null }),
    chunk({}, null, { choices: [], usage }),
    // DeepSeek: reasoning_content beside content, null on the side not speaking.
    one({ content: null, reasoning_content: 'think' }, null, {}, { usage: null }),
    one({ content: 'ans', reasoning_content: null }, null, {}, { usage: null }),
    // Moonshot: usage inside the finishing choice. Groq: x_groq.usage.
    one({}, 'stop', { usage }),
    one({}, 'stop', {}, { x_groq: { id: 'r', usage } }),
    // logprobs with a content array of their own, beside text or alone.
    one({ content: 'Hi' }, null, { logprobs }),
    one({}, null, { logprobs }),
    // Refusal, tool calls, audio, several choices.
    one({ refusal: 'I cannot' }, null),
    one({ tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '' } }] }, null),
    one({ content: 'x', tool_calls: null, reasoning: null }, null),
    one({ audio: { id: 'a', data: 'AAAA', transcript: 'hello' } }, null),
    chunk({}, null, {
      choices: [
        { index: 0, delta: { content: 'a' }, finish_reason: null },
        { index: 1, delta: { content: 'b' }, finish_reason: null },
      ],
    }),
    // Azure: content filter results beside the delta; a first chunk with no choices.
    one({ content: 'Az' }, null, { content_filter_results: { hate: { filtered: false } } }),
    chunk({}, null, { choices: [], prompt_filter_results: [{ prompt_index: 0 }] }),
    // Escapes: quotes, backslashes, line separators, astral characters, text that looks like keys.
    one({ content: 'say "delta": {"content": "x"} \\ \u2028 😀 \u0001' }, null),
    one({ content: '"usage":{"prompt_tokens":9}' }, null, {}, { usage: null }),
    // A delta that is not an object, with content beside it in the choice (no text: the parse
    // reads the delta's content only).
    one('x', null, { content: 'beside' }),
    // Errors inside a 200 stream.
    JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }),
    JSON.stringify({ type: 'error', error: { message: 'overloaded' } }),
    // Written by hand: spaces, \u escapes, an empty finish_reason, usage where it may hide.
    '{"choices":[{"index":0,"delta":{"content":"spaced"},"finish_reason":null}], "usage": null}',
    '{"choices":[{"index":0,"delta":{"content":"\\ud83d\\ude00 \\u0041\\"\\\\"},"finish_reason":null}]}',
    '{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":""}]}',
    '{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":"null"}',
    '{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":null,"response":{"usage":{"input_tokens":1}}}',
    '{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"error":null,"type":"error"}',
  ];

  /**
   * The decoder's answer after a first content chunk (the plain reading starts there), all of
   * it but the neutral events (not made when passing through).
   */
  function answer(data: string, clientWantsUsage: boolean) {
    const decoder = new OpenAiChatDecoder({ translate: false, clientWantsUsage });
    expect(decoder.decode({ data: one({ content: 'first' }, null) }).content).toBe(true);
    const { events: _events, ...rest } = decoder.decode({ data });
    return rest;
  }

  it('gives the same answer for every chunk: content, text, usage, finish, failure, forward', () => {
    let plain = 0;
    for (const data of datas) {
      if (plainChunkText(data) !== undefined) plain++;
      for (const wantsUsage of [false, true]) {
        // JSON.parse reads a leading space as nothing; the plain-chunk reading takes no such chunk.
        expect(answer(data, wantsUsage), data).toEqual(answer(` ${data}`, wantsUsage));
      }
    }
    expect(plain).toBeGreaterThan(5);
  });

  it('reads nothing the plain way before the first content: a malformed chunk there can fail over', () => {
    // A trailing comma: plain-looking, but not JSON.
    const junk = one({ content: 'x' }, null).replace(/}$/, ',}');
    const decoder = new OpenAiChatDecoder({ translate: false, clientWantsUsage: false });
    // A role chunk first, as every stream starts: it is not content.
    expect(decoder.decode({ data: one({ role: 'assistant', content: '' }, null) }).content).toBe(
      false,
    );
    expect(decoder.decode({ data: junk }).failure).toMatchObject({ kind: 'malformed' });
    expect(decoder.decode({ data: one({ content: 'first' }, null) }).content).toBe(true);
    // After it, a pass-through forwards the upstream's bytes as they came.
    expect(decoder.decode({ data: junk })).toMatchObject({ content: true, forward: true });
  });
});

describe("PlainChunkReader: a stream's chunks read against the shape of its last plain one", () => {
  /** OpenAI's text delta as it streams it, `obfuscation` padding and all. */
  const openAi = (content: string, pad: string) =>
    chunk({ content }, null, { usage: null, obfuscation: pad });
  /** A chunk made by hand of the learnt parts, around a string literal's body and a padding. */
  const made = (shape: NonNullable<PlainChunkReader['shape']>, body: string, pad = '') =>
    `${shape.head}${body}${shape.tail}${shape.afterPad === undefined ? '' : `${pad}${shape.afterPad}`}`;

  it('learns the shape of a plain chunk with text: the text apart, and the padding apart', () => {
    const reader = new PlainChunkReader();
    expect(reader.read(chunk({ role: 'assistant', content: '' }))).toBe('');
    const first = openAi('Hi', 'x7Rq');
    expect(reader.read(first)).toBe('Hi');
    expect(reader.shape).toEqual({
      head: first.slice(0, first.indexOf('Hi')),
      tail: '"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"',
      afterPad: '"}',
    });
    // Without padding the whole rest is the tail; a chunk of another shape is learnt anew.
    const deepSeek = chunk({ content: 'ans', reasoning_content: null });
    expect(reader.read(deepSeek)).toBe('ans');
    const learnt = reader.shape;
    expect(learnt).toEqual({
      head: deepSeek.slice(0, deepSeek.indexOf('ans')),
      tail: deepSeek.slice(deepSeek.indexOf('ans') + 3),
      afterPad: undefined,
    });
    // Chunks that are not plain teach nothing.
    expect(reader.read(chunk({}, 'stop', { usage: null }))).toBeUndefined();
    expect(reader.read(chunk({ content: 'x' }, null, { usage: { prompt_tokens: 1 } }))).toBe(
      undefined,
    );
    expect(reader.shape).toEqual(learnt);
  });

  it('reads a chunk of that shape as the full parse does: any text, escapes, any padding', () => {
    const reader = new PlainChunkReader();
    reader.read(openAi('Hi', 'ab'));
    const shape = reader.shape!;
    const texts = ['tok ', '', 'a "quoted" \\ back\\slash\n', 'é 😀 \u2028', '"usage":{"x":1}'];
    for (const text of texts) {
      for (const pad of ['', 'Zq', 'a-much-longer-padding-0123456789']) {
        const data = openAi(text, pad);
        expect(data).toBe(made(shape, JSON.stringify(text).slice(1, -1), pad));
        expect(reader.read(data), data).toBe(text);
        expect(reader.read(data)).toBe(parsedText(data));
      }
    }
    // Read against the learnt shape, not by the full check: a text that is a key's name sends
    // a chunk to the parse there, which reads it as the text it is.
    const keyName = openAi('usage', 'zz');
    expect(plainChunkText(keyName)).toBeUndefined();
    expect(parsedText(keyName)).toBe('usage');
    expect(reader.read(keyName)).toBe('usage');
  });

  it('answers as the full parse for a chunk that only looks like that shape', () => {
    const learnt = openAi('Hi', 'ab');
    const shape = (() => {
      const reader = new PlainChunkReader();
      reader.read(learnt);
      return reader.shape!;
    })();
    const usage = '{"prompt_tokens":1,"completion_tokens":2}';
    const lookalikes = [
      // A quote that ends the text early, then keys of its own before the learnt end.
      made(shape, `a","finish_reason":"stop"}],"usage":${usage},"x":"`, 'ab'),
      made(shape, `a"},"finish_reason":"stop"}],"usage":${usage},"obfuscation":"`, 'ab'),
      // Keys inside the padding's place: a quote or a backslash in it.
      made(shape, 'hi', `a","usage":${usage},"x":"b`),
      made(shape, 'hi', 'a\\",\\"usage\\":1'),
      // A backslash alone there escapes the quote that ends it: not JSON.
      made(shape, 'hi', 'ab\\'),
      // A tail that differs by as many characters (a finish), an end after the padding that
      // differs (not JSON), a head that differs, a text escape that is not JSON's.
      made(shape, 'hi', 'ab').replace('"finish_reason":null', '"finish_reason":"st"'),
      `${made(shape, 'hi', 'ab').slice(0, -1)}]`,
      made(shape, 'hi', 'ab').replace('"finish_reason":null', '"finish_reason":"stop"'),
      made(shape, 'hi', 'ab').replace('"index":0', '"index":1'),
      made(shape, 'hi', 'ab').replace('"delta"', '"delte"'),
      made(shape, 'bad \\x escape', 'ab'),
      `${made(shape, 'hi', 'ab')} `,
    ];
    for (const data of lookalikes) {
      const reader = new PlainChunkReader();
      reader.read(learnt);
      expect(reader.read(data), data).toBe(plainChunkText(data));
    }
    // Through the decoder: the same answer as the full parse gives (a leading space forces it).
    const decoded = (data: string) => {
      const decoder = new OpenAiChatDecoder({ translate: false, clientWantsUsage: true });
      expect(decoder.decode({ data: openAi('first', '') }).content).toBe(true);
      expect(decoder.decode({ data: learnt }).text).toBe('Hi');
      const { events: _events, ...rest } = decoder.decode({ data });
      return rest;
    };
    for (const data of lookalikes) expect(decoded(data), data).toEqual(decoded(` ${data}`));
    expect(decoded(lookalikes[2]!).usage).toMatchObject({ promptTokens: 1 });
  });

  it('takes nothing past the learnt end of a chunk without padding', () => {
    const learnt = chunk({ content: 'Hi' }, null, { usage: null });
    const reader = new PlainChunkReader();
    reader.read(learnt);
    expect(reader.shape?.afterPad).toBeUndefined();
    // The chunk's own end, then more: not JSON, and a usage the full parse would have read.
    const longer = `${made(reader.shape!, 'hi')},"usage":{"prompt_tokens":1}}`;
    expect(reader.read(longer)).toBe(plainChunkText(longer));
    const decoder = new OpenAiChatDecoder({ translate: false, clientWantsUsage: true });
    decoder.decode({ data: chunk({ content: 'first' }) });
    expect(decoder.decode({ data: learnt }).text).toBe('Hi');
    expect(decoder.decode({ data: longer }).failure).toMatchObject({ kind: 'malformed' });
  });
});
