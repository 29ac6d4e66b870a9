import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const CLIENT_KEY = 'sk-alice-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-deepseek-secret-1';

describe('POST /v1/chat/completions through the official openai SDK', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      reasoning: '让我想想……',
      promptTokens: 21,
      completionTokens: 9,
    });
    t = await startTestRelay(
      {
        channels: [
          {
            name: 'deepseek',
            type: 'openai',
            baseUrl: upstream.url,
            apiKey: 'env:TEST_DEEPSEEK_KEY',
            models: ['deepseek-chat', 'deepseek-reasoner'],
            modelMap: { 'deepseek-r1': 'deepseek-reasoner' },
          },
        ],
        keys: [{ name: 'alice', key: CLIENT_KEY, quota: 5, models: ['*'] }],
        prices: {
          'deepseek-chat': { input: 0.27, output: 1.1 },
          'deepseek-reasoner': { input: 0.55, output: 2.19 },
        },
      },
      { TEST_DEEPSEEK_KEY: UPSTREAM_KEY },
    );
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('answers a JSON request with the upstream body and bills the upstream-reported usage', async () => {
    const before = upstream.requests.length;
    const res = await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices[0]?.message.content).toBe('您好！有什么我可以帮助您的吗？');
    expect(res.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 9 });

    const sent = upstream.requests[before]!;
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(sent.headers)).not.toContain(CLIENT_KEY);

    const store = t.store();
    const row = await eventually(() => {
      const r = store.listUsage({ limit: 1 })[0];
      expect(r?.endpoint).toBe('/chat/completions');
      return r!;
    });
    expect(row).toMatchObject({
      keyName: 'alice',
      model: 'deepseek-chat',
      channel: 'deepseek',
      status: 200,
      promptTokens: 21,
      completionTokens: 9,
      source: 'upstream',
    });
    // 21 × 0.27 + 9 × 1.10 micro-USD, rounded up
    expect(row.costMicros).toBe(Math.ceil(21 * 0.27 + 9 * 1.1));
    expect(row.ttfbMs).not.toBeNull();
  });

  it('streams reasoning_content and content chunk by chunk, ending with [DONE]', async () => {
    const stream = await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-r1',
      messages: [{ role: 'user', content: '您好' }],
      stream: true,
    });
    let reasoning = '';
    let content = '';
    let chunks = 0;
    let sawUsage = false;
    for await (const chunk of stream) {
      chunks++;
      const delta = chunk.choices[0]?.delta as
        { content?: string | null; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? '';
      content += delta?.content ?? '';
      if (chunk.usage) sawUsage = true;
      expect(chunk.model).toBe('deepseek-reasoner');
    }
    expect(reasoning).toBe('让我想想……');
    expect(content).toBe('您好！有什么我可以帮助您的吗？');
    expect(chunks).toBeGreaterThan(5);
    // The relay asked the upstream for usage, but this client did not: it must not see the extra chunk.
    expect(sawUsage).toBe(false);
    const sent = upstream.requests.at(-1)!;
    expect(sent.json).toMatchObject({
      model: 'deepseek-reasoner',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('passes the usage chunk through when the client asked for it, and bills it', async () => {
    const stream = await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usages = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toEqual([{ prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 }]);
    const store = t.store();
    await eventually(() =>
      expect(store.listUsage({ limit: 1 })[0]).toMatchObject({
        source: 'upstream',
        promptTokens: 21,
        completionTokens: 9,
      }),
    );
  });

  it('streams tool-call deltas and logprobs unchanged', async () => {
    const stream = await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-chat',
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_0',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_0', content: 'sunny' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      stream: true,
    });
    let args = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? [])
        args += call.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(args).toBe('{"city":"Paris"}');
    expect(finish).toBe('tool_calls');
    expect(upstream.requests.at(-1)!.json!.messages).toHaveLength(3);

    const withLogprobs = await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'hi' }],
      logprobs: true,
      stream: true,
    });
    const tokens: string[] = [];
    for await (const chunk of withLogprobs)
      for (const lp of chunk.choices[0]?.logprobs?.content ?? []) tokens.push(lp.token);
    expect(tokens.join('')).toBe('您好！有什么我可以帮助您的吗？');
  });

  it('passes content given as an array of text and image_url parts (URL and base64) through unchanged', async () => {
    const content = [
      { type: 'text' as const, text: '输入的内容\n[image]' },
      { type: 'image_url' as const, image_url: { url: 'https://example.com/cat.png' } },
      { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
    ];
    await t
      .client(CLIENT_KEY)
      .chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content }] });
    expect(upstream.requests.at(-1)!.json!.messages).toEqual([{ role: 'user', content }]);
  });

  it('rewrites an alias to the upstream model name and lists aliases in /v1/models', async () => {
    await t.client(CLIENT_KEY).chat.completions.create({
      model: 'deepseek-r1',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(upstream.requests.at(-1)!.json!.model).toBe('deepseek-reasoner');
    const models = await t.client(CLIENT_KEY).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual([
      'deepseek-chat',
      'deepseek-r1',
      'deepseek-reasoner',
    ]);
  });

  /** Posts `body` as written; resolves with the text the upstream received. */
  const sendRaw = async (body: string): Promise<string> => {
    const res = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    await res.text();
    return upstream.requests.at(-1)!.text!;
  };

  it('sends the body upstream as the client wrote it, unless the relay has to change or could misread it', async () => {
    // Spacing, key order and number spelling kept: nothing was re-serialised.
    const asIs = `{ "messages": [{"role":"user","content":"hi"}],\n  "temperature": 0.50, "model": "deepseek-chat" }`;
    expect(await sendRaw(asIs)).toBe(asIs);
    // An alias is renamed, so the body is written anew.
    const alias = `{"model": "deepseek-r1", "messages": [{"role":"user","content":"hi"}]}`;
    expect(JSON.parse(await sendRaw(alias))).toMatchObject({ model: 'deepseek-reasoner' });
    // A repeated limit: the relay held quota for the last one, so the upstream gets only that one.
    const twice = `{"model":"deepseek-chat","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"max_tokens":5}`;
    expect(await sendRaw(twice)).toBe(JSON.stringify(JSON.parse(twice)));
    // A key spelled with an escape could be a second "model": written anew too.
    const escaped = `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"mod\\u0065l":"deepseek-chat"}`;
    expect(await sendRaw(escaped)).toBe(JSON.stringify(JSON.parse(escaped)));
  });

  it('asks a stream’s upstream for usage in front of the client’s own bytes, unless stream_options says otherwise', async () => {
    const plain = `{ "model": "deepseek-chat", "stream": true,\n "messages": [{"role":"user","content":"hi"}] }`;
    expect(await sendRaw(plain)).toBe(
      `{"stream_options":{"include_usage":true}, "model": "deepseek-chat", "stream": true,\n "messages": [{"role":"user","content":"hi"}] }`,
    );
    // Its own stream_options (without the ask): written anew, what it said kept.
    const own = `{"model":"deepseek-chat","stream":true,"stream_options":{"include_obfuscation":false},"messages":[{"role":"user","content":"hi"}]}`;
    const sent = await sendRaw(own);
    expect(sent).not.toBe(own);
    expect(JSON.parse(sent)).toEqual({
      ...(JSON.parse(own) as object),
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    // A null stream_options is one too: never a second one in front of it.
    const none = `{"model":"deepseek-chat","stream":true,"stream_options":null,"messages":[{"role":"user","content":"hi"}]}`;
    expect(JSON.parse(await sendRaw(none))).toEqual({
      ...(JSON.parse(none) as object),
      stream_options: { include_usage: true },
    });
    // Asked already: as sent.
    const asked = `{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`;
    expect(await sendRaw(asked)).toBe(asked);
  });

  it('never forwards the client key, cookies, tracing or browser headers upstream', async () => {
    const res = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${CLIENT_KEY}`,
        'content-type': 'application/json',
        cookie: 'session=abc',
        'sentry-trace': '57d8ffae51e3445fa53f0328bdd3536a-825f60796cb21e4b',
        baggage: 'sentry-environment=production',
        'sec-fetch-site': 'cross-site',
        'x-forwarded-for': '203.0.113.9',
        'x-real-ip': '203.0.113.9',
      },
      body: JSON.stringify({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(200);
    const headers = upstream.requests.at(-1)!.headers;
    for (const name of [
      'cookie',
      'sentry-trace',
      'baggage',
      'sec-fetch-site',
      'x-forwarded-for',
      'x-real-ip',
      'x-api-key',
    ]) {
      expect(headers[name]).toBeUndefined();
    }
    expect(headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });
});
