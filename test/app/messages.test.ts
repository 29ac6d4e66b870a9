/**
 * Anthropic Messages through the relay, as the official SDKs see it: passed through to a
 * channel that speaks Messages, translated to one that speaks OpenAI, and the other way round
 * (an OpenAI client on an Anthropic channel). Keys, quota, failover and the one usage row hold
 * on /v1/messages as they do on chat.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import type { AnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-messages-0123456789abcdef';
const POOR = 'sk-messages-poor-0123456789';
const LIMITED = 'sk-messages-rpm-0123456789';
const TOKEN_LIMITED = 'sk-messages-tpm-0123456789';

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather in a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

describe('POST /v1/messages', () => {
  let claude: AnthropicUpstream;
  let openai: FakeUpstream;
  let t: TestRelay;
  let sdk: Anthropic;

  beforeAll(async () => {
    claude = await startAnthropicUpstream({
      apiKey: 'up-anthropic-key',
      reply: {
        thinking: [{ text: 'The user greets me.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h' }],
        text: 'Hello from Claude.',
        usage: { input: 30, output: 12, cacheRead: 100, cacheWrite5m: 20 },
      },
    });
    openai = await startOpenAiUpstream({ apiKey: 'up-openai-key', reply: 'Hello from DeepSeek.' });
    t = await startTestRelay({
      server: { heartbeatMs: 50 },
      channels: [
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['claude-*'],
        },
        {
          name: 'deepseek',
          baseUrl: openai.url,
          apiKey: 'up-openai-key',
          models: ['deepseek-chat'],
        },
      ],
      keys: [
        { name: 'dev', key: KEY, quota: 10 },
        { name: 'poor', key: POOR, quota: 0.000001 },
        { name: 'limited', key: LIMITED, rpm: 1 },
        { name: 'token-limited', key: TOKEN_LIMITED, tpm: 1 },
      ],
      prices: {
        'claude-sonnet-4-5': { input: 3, output: 15, cacheRead: 0.3, cacheWrite5m: 3.75 },
        'deepseek-chat': { input: 0.27, output: 1.1 },
      },
    });
    sdk = new Anthropic({ apiKey: KEY, baseURL: t.baseUrl, maxRetries: 0 });
  });
  afterAll(async () => {
    await t?.close();
    await claude?.close();
    await openai?.close();
  });
  beforeEach(() => {
    claude.requests.length = 0;
    openai.requests.length = 0;
  });

  const rowsFor = (model: string) =>
    t
      .store()
      .listUsage()
      .filter((r) => r.model === model);

  describe('to a channel that speaks Messages: passed through', () => {
    it('sends the body upstream as the client wrote it when nothing in it changes', async () => {
      // Spacing, key order and number spelling kept: nothing was re-serialised.
      const asIs = `{ "messages": [{"role":"user","content":"hi"}],\n  "max_tokens": 64, "temperature": 0.50, "model": "claude-sonnet-4-5" }`;
      const res = await fetch(`${t.baseUrl}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': KEY,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: asIs,
      });
      expect(res.status).toBe(200);
      await res.text();
      expect(claude.requests.at(-1)!.text).toBe(asIs);
    });

    it('answers create() with the upstream message, thinking signature and cache usage intact', async () => {
      const msg = await sdk.messages.create(
        {
          model: 'claude-sonnet-4-5',
          max_tokens: 1024,
          messages: [{ role: 'user', content: 'Hello' }],
          thinking: { type: 'enabled', budget_tokens: 512 },
        },
        { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } },
      );
      expect(msg.content).toEqual([
        {
          type: 'thinking',
          thinking: 'The user greets me.',
          signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h',
        },
        expect.objectContaining({ type: 'text', text: 'Hello from Claude.' }),
      ]);
      expect(msg.usage).toMatchObject({
        input_tokens: 30,
        output_tokens: 12,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 20,
      });
      const sent = claude.requests.at(-1)!;
      expect(sent.headers['x-api-key']).toBe('up-anthropic-key');
      expect(sent.headers.authorization).toBeUndefined();
      expect(sent.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
      expect(sent.json).toMatchObject({
        model: 'claude-sonnet-4-5',
        thinking: { type: 'enabled', budget_tokens: 512 },
      });
      // Every input token counted, each kind at its own price: 30 × 3 + 100 × 0.3 + 20 × 3.75 + 12 × 15.
      const [row] = await eventually(() => {
        const rows = rowsFor('claude-sonnet-4-5');
        expect(rows).toHaveLength(1);
        return rows;
      });
      expect(row).toMatchObject({
        endpoint: '/messages',
        channel: 'claude',
        status: 200,
        promptTokens: 150,
        completionTokens: 12,
        cacheReadTokens: 100,
        cacheWrite5mTokens: 20,
        costMicros: 90 + 30 + 75 + 180,
      });
    });

    it('streams the upstream frames unchanged, signature_delta included', async () => {
      const request = (base: string, key: string) =>
        fetch(`${base}/messages?beta=true`, {
          method: 'POST',
          headers: {
            'x-api-key': key,
            'content-type': 'application/json',
            'anthropic-version': '2023-06-01',
          },
          body: JSON.stringify({
            model: 'claude-sonnet-4-5',
            max_tokens: 256,
            stream: true,
            messages: [{ role: 'user', content: 'Hello' }],
          }),
        });
      const res = await request(`${t.baseUrl}/v1`, KEY);
      const text = await res.text();
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      // Every event and its data exactly as the upstream sent them, in order.
      const direct = await (await request(claude.url, 'up-anthropic-key')).text();
      expect(text).toBe(direct);
      expect(text).toContain('"type":"signature_delta"');
      expect(text.trimEnd().endsWith('data: {"type":"message_stop"}')).toBe(true);
      const stream = sdk.messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hello' }],
      });
      const final = await stream.finalMessage();
      expect(final.content[0]).toMatchObject({
        type: 'thinking',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h',
      });
      expect(final.usage).toMatchObject({
        input_tokens: 30,
        output_tokens: 12,
        cache_read_input_tokens: 100,
      });
    });

    it('keeps a slow stream alive with event: ping before the first event', async () => {
      const res = await fetch(`${t.baseUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5-delay-300',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'x' }],
        }),
      });
      const text = await res.text();
      expect(text.startsWith('event: ping\ndata: {"type": "ping"}\n\n')).toBe(true);
      expect(text.indexOf('event: ping')).toBeLessThan(text.indexOf('event: message_start'));
      expect(text).toContain('event: message_stop');
    });

    it('counts tokens upstream, and never bills the count', async () => {
      const before = rowsFor('claude-sonnet-4-5').length;
      const count = await sdk.messages.countTokens({
        model: 'claude-sonnet-4-5',
        messages: [{ role: 'user', content: 'Hello there' }],
      });
      expect(count.input_tokens).toBeGreaterThan(0);
      expect(claude.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
      const rows = await eventually(() => {
        const r = rowsFor('claude-sonnet-4-5');
        expect(r).toHaveLength(before + 1);
        return r;
      });
      expect(rows[0]).toMatchObject({ endpoint: '/messages/count_tokens', costMicros: 0 });
    });
  });

  it('answers count_tokens with an estimate where the channel cannot count, and chat stays up', async () => {
    for (let i = 0; i < 8; i++) {
      const count = await sdk.messages.countTokens({
        model: 'claude-sonnet-4-5-nocount',
        messages: [{ role: 'user', content: 'x'.repeat(300) }],
      });
      expect(count.input_tokens).toBeGreaterThanOrEqual(100);
    }
    // Eight failed counts are not chat failures: the model's circuit stays closed.
    const msg = await sdk.messages.create({
      model: 'claude-sonnet-4-5-nocount',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(msg.content.at(-1)).toMatchObject({ type: 'text', text: 'Hello from Claude.' });
  });

  describe('to a channel that speaks OpenAI: translated', () => {
    it('sends an OpenAI chat request with the tools, and answers with a tool_use block', async () => {
      const msg = await sdk.messages.create({
        model: 'deepseek-chat',
        max_tokens: 300,
        system: 'You are terse.',
        tools: [WEATHER_TOOL],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      });
      expect(msg.stop_reason).toBe('tool_use');
      expect(msg.content).toEqual([
        expect.objectContaining({
          type: 'tool_use',
          name: 'get_weather',
          input: { city: 'Paris' },
        }),
      ]);
      expect(msg.model).toBe('deepseek-chat');
      const sent = openai.requests.at(-1)!;
      expect(sent.path).toBe('/v1/chat/completions');
      expect(sent.headers.authorization).toBe('Bearer up-openai-key');
      expect(sent.json).toMatchObject({
        model: 'deepseek-chat',
        max_tokens: 300,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Weather in Paris?' },
        ],
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', parameters: WEATHER_TOOL.input_schema },
          },
        ],
      });
    });

    it('streams Messages events the SDK accumulates, with the usage of the upstream', async () => {
      const stream = sdk.messages.stream({
        model: 'deepseek-chat',
        max_tokens: 300,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const final = await stream.finalMessage();
      expect(final.content).toEqual([
        expect.objectContaining({ type: 'text', text: 'Hello from DeepSeek.' }),
      ]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
      expect(openai.requests.at(-1)!.json).toMatchObject({
        stream: true,
        stream_options: { include_usage: true },
      });
      await eventually(() =>
        expect(rowsFor('deepseek-chat').at(0)).toMatchObject({
          endpoint: '/messages',
          source: 'upstream',
          promptTokens: 11,
        }),
      );
    });

    it('streams an answer the upstream sent whole (it ignored stream) as Messages events', async () => {
      openai.overrides.push((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-whole',
            object: 'chat.completion',
            created: 1,
            model: req.json?.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: 'All at once.' },
                finish_reason: 'stop',
              },
            ],
            usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
          }),
        );
        return true;
      });
      const final = await sdk.messages
        .stream({
          model: 'deepseek-chat',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'Hi' }],
        })
        .finalMessage();
      expect(final.content).toEqual([
        expect.objectContaining({ type: 'text', text: 'All at once.' }),
      ]);
      expect(final.usage).toMatchObject({ input_tokens: 9, output_tokens: 3 });
    });

    it('streams a tool call as tool_use with its input in pieces', async () => {
      const final = await sdk.messages
        .stream({
          model: 'deepseek-chat',
          max_tokens: 300,
          tools: [WEATHER_TOOL],
          messages: [{ role: 'user', content: 'Paris?' }],
        })
        .finalMessage();
      expect(final.stop_reason).toBe('tool_use');
      expect(final.content).toEqual([
        expect.objectContaining({ type: 'tool_use', input: { city: 'Paris' } }),
      ]);
    });

    it('estimates count_tokens itself when no channel for the model speaks Messages', async () => {
      const count = await sdk.messages.countTokens({
        model: 'deepseek-chat',
        messages: [{ role: 'user', content: 'x'.repeat(300) }],
      });
      expect(count.input_tokens).toBeGreaterThanOrEqual(100);
      expect(openai.requests).toHaveLength(0);
    });
  });

  describe('errors in Anthropic shape, as the SDK raises them', () => {
    it('401, 404, 400 and 429 come back as the SDK error classes with request ids', async () => {
      const wrongKey = new Anthropic({
        apiKey: 'sk-nope-0123456789abcdef',
        baseURL: t.baseUrl,
        maxRetries: 0,
      });
      const create = (client: Anthropic, body: Record<string, unknown>) =>
        client.messages.create({
          max_tokens: 10,
          messages: [{ role: 'user', content: 'x' }],
          ...body,
        } as never);
      await expect(create(wrongKey, { model: 'claude-sonnet-4-5' })).rejects.toBeInstanceOf(
        Anthropic.AuthenticationError,
      );
      await expect(create(sdk, { model: 'gpt-nothing' })).rejects.toBeInstanceOf(
        Anthropic.NotFoundError,
      );
      await expect(
        create(sdk, { model: 'claude-sonnet-4-5', messages: 'nope' }),
      ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
      const poor = new Anthropic({ apiKey: POOR, baseURL: t.baseUrl, maxRetries: 0 });
      const refused = await create(poor, { model: 'claude-sonnet-4-5' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
      expect((refused as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        type: 'error',
        error: { type: 'rate_limit_error' },
      });
      expect((refused as InstanceType<typeof Anthropic.APIError>).requestID).toMatch(/^req_/);
    });

    /** Two calls with a limited key: the first is let in, the second's refusal is returned. */
    const secondCallOf = async (apiKey: string) => {
      const limited = new Anthropic({ apiKey, baseURL: t.baseUrl, maxRetries: 0 });
      const body = {
        model: 'deepseek-chat',
        max_tokens: 5,
        messages: [{ role: 'user' as const, content: 'x' }],
      };
      await limited.messages.create(body);
      const second = await limited.messages.create(body).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(Anthropic.RateLimitError);
      return second as InstanceType<typeof Anthropic.APIError>;
    };

    it('an rpm limit answers 429 with retry-after on /v1/messages too', async () => {
      expect((await secondCallOf(LIMITED)).headers?.get('retry-after')).toMatch(/^\d+$/);
    });

    it('a tpm limit answers 429 in the Anthropic shape once the settled tokens fill the minute', async () => {
      const refused = await secondCallOf(TOKEN_LIMITED);
      expect(refused.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(refused.headers?.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.headers?.get('x-ratelimit-limit-tokens')).toBe('1');
      expect(refused.headers?.get('x-ratelimit-remaining-tokens')).toBe('0');
    });

    it('a stream that breaks after content ends with event: error and no message_stop', async () => {
      claude.scripts.push({
        kind: 'stream-error',
        afterEvents: 6,
        type: 'overloaded_error',
        message: 'Overloaded',
      });
      const res = await fetch(`${t.baseUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'x' }],
        }),
      });
      const text = await res.text();
      expect(text).toContain('event: error');
      expect(text).not.toContain('message_stop');
      const error = text.split('event: error\ndata: ')[1]!.split('\n')[0]!;
      // The upstream's own type, as Anthropic's API itself ends such a stream.
      expect(JSON.parse(error)).toMatchObject({
        type: 'error',
        error: { type: 'overloaded_error' },
      });
      // Billed for what it produced: at least the text the client received, not the 1 output
      // token message_start announced.
      const row = await eventually(() => {
        const r = t
          .store()
          .listUsage()
          .find((u) => u.status >= 500 && u.model === 'claude-sonnet-4-5');
        expect(r).toBeDefined();
        return r!;
      });
      expect(row.source).toBe('partial');
      expect(row.completionTokens).toBeGreaterThan(1);
    });
  });

  describe('failover across dialects', () => {
    it('an overloaded Anthropic channel fails over to an OpenAI channel before any content', async () => {
      const relay = await startTestRelay({
        channels: [
          {
            name: 'claude',
            type: 'anthropic',
            baseUrl: claude.url,
            apiKey: 'up-anthropic-key',
            models: ['sonnet'],
            priority: 0,
          },
          {
            name: 'backup',
            baseUrl: openai.url,
            apiKey: 'up-openai-key',
            models: ['sonnet'],
            priority: 1,
          },
        ],
        server: { maxAttemptsPerChannel: 1 },
        keys: [{ name: 'dev', key: KEY }],
      });
      try {
        claude.scripts.push({
          kind: 'error',
          status: 529,
          type: 'overloaded_error',
          message: 'Overloaded',
        });
        const client = new Anthropic({ apiKey: KEY, baseURL: relay.baseUrl, maxRetries: 0 });
        const final = await client.messages
          .stream({ model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] })
          .finalMessage();
        expect(final.content).toEqual([expect.objectContaining({ text: 'Hello from DeepSeek.' })]);
        await eventually(() =>
          expect(relay.store().listUsage()[0]).toMatchObject({
            channel: 'backup',
            status: 200,
            detail: { attempts: 2 },
          }),
        );
      } finally {
        await relay.close();
      }
    });
  });
});

describe('an OpenAI client on an Anthropic channel', () => {
  let claude: AnthropicUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    claude = await startAnthropicUpstream({
      apiKey: 'up-anthropic-key',
      reply: {
        thinking: [{ text: 'Weather needs a tool.', signature: 'sig-abc' }],
        toolCalls: [{ id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }],
        usage: { input: 40, output: 20, cacheRead: 8 },
      },
    });
    t = await startTestRelay({
      channels: [
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['claude-*'],
        },
      ],
      keys: [{ name: 'dev', key: KEY }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await claude?.close();
  });

  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
  ];

  it('gets a chat completion with tool calls, reasoning and signed thinking blocks', async () => {
    const res = await t.client(KEY).chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
      ],
      tools,
    });
    const message = res.choices[0]!.message as (typeof res.choices)[0]['message'] &
      Record<string, unknown>;
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.tool_calls).toEqual([
      {
        id: 'toolu_01A',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
    ]);
    expect(message.reasoning_content).toBe('Weather needs a tool.');
    expect(message.thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'sig-abc' },
    ]);
    expect(res.usage).toMatchObject({
      prompt_tokens: 48,
      completion_tokens: 20,
      prompt_tokens_details: { cached_tokens: 8 },
    });
    const sent = claude.requests.at(-1)!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe('up-anthropic-key');
    expect(sent.json).toMatchObject({
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user' }],
      tools: [{ name: 'get_weather', input_schema: tools[0]!.function.parameters }],
    });
  });

  it('sends the tool result and the signed thinking back as Anthropic needs them', async () => {
    await t.client(KEY).chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_01A',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
          // @ts-expect-error thinking_blocks: LiteLLM's field, which the relay reads back
          thinking_blocks: [
            { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'sig-abc' },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01A', content: '18C and sunny' },
      ],
      tools,
    });
    expect(claude.requests.at(-1)!.json!.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'sig-abc' },
          { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_01A',
            content: [{ type: 'text', text: '18C and sunny' }],
          },
        ],
      },
    ]);
  });

  it('streams chunks the openai SDK accumulates into the same tool call', async () => {
    const stream = t.client(KEY).chat.completions.stream({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: {
        tool_calls: [
          { id: 'toolu_01A', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        ],
      },
    });
    expect(final.usage).toMatchObject({ prompt_tokens: 48, completion_tokens: 20 });
    expect(
      (final.choices[0]!.message as unknown as Record<string, unknown>).thinking_blocks,
    ).toEqual([{ type: 'thinking', thinking: 'Weather needs a tool.', signature: 'sig-abc' }]);
  });
});

describe('a request only its own dialect can carry', () => {
  let claude: AnthropicUpstream;
  let openai: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    claude = await startAnthropicUpstream({ apiKey: 'up-anthropic-key' });
    openai = await startOpenAiUpstream({ apiKey: 'up-openai-key' });
    t = await startTestRelay({
      channels: [
        // The Anthropic channel comes first, but cannot take n = 2.
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['mixed'],
          priority: 0,
        },
        {
          name: 'gpt',
          baseUrl: openai.url,
          apiKey: 'up-openai-key',
          models: ['mixed'],
          priority: 1,
        },
      ],
      keys: [{ name: 'dev', key: KEY }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await claude?.close();
    await openai?.close();
  });

  it('goes to the channels that speak that dialect, and is a 400 only when none does', async () => {
    const res = await t.client(KEY).chat.completions.create({
      model: 'mixed',
      n: 2,
      messages: [{ role: 'user', content: 'Two answers, please.' }],
    });
    expect(res.choices[0]!.message.content).toBeTruthy();
    expect(claude.requests).toHaveLength(0);
    expect(openai.requests.at(-1)!.json).toMatchObject({ n: 2 });
    const onlyClaude = await startTestRelay({
      channels: [
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['mixed'],
        },
      ],
      keys: [{ name: 'dev', key: KEY }],
    });
    try {
      const refused = await onlyClaude
        .client(KEY)
        .chat.completions.create({
          model: 'mixed',
          n: 2,
          messages: [{ role: 'user', content: 'x' }],
        })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 400, param: 'n' });
    } finally {
      await onlyClaude.close();
    }
  });
});
