/**
 * The fake Anthropic upstream speaks Anthropic: the official SDK, pointed at it, creates,
 * streams, counts, lists and raises its error classes as it would against the real API. The
 * end-to-end tests rely on that.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMessagesStream } from '../fixtures/anthropic-sse.ts';
import { startAnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import type { AnthropicReply, AnthropicUpstream } from '../fixtures/anthropic-upstream.ts';

const KEY = 'sk-ant-fixture-key';
const reply: AnthropicReply = {
  thinking: [
    {
      text: 'I need to find the GCD of 1071 and 462.',
      signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
    },
  ],
  text: 'The GCD is 21.',
  toolCalls: [
    { name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'fahrenheit' } },
  ],
  usage: { input: 472, output: 89, cacheRead: 1000, cacheWrite5m: 200, cacheWrite1h: 50 },
};

let upstream: AnthropicUpstream;
let client: Anthropic;
const ask = {
  model: 'claude-opus-4-8',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

beforeAll(async () => {
  upstream = await startAnthropicUpstream({ apiKey: KEY, reply });
  client = new Anthropic({
    apiKey: KEY,
    baseURL: upstream.url.replace(/\/v1$/, ''),
    maxRetries: 0,
  });
});
afterAll(() => upstream.close());

describe('fake Anthropic upstream', () => {
  it('answers create with a whole message and records the request', async () => {
    const message = await client.messages.create(ask);
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({
      input_tokens: 472,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 250,
      cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 50 },
      output_tokens: 89,
    });
    const last = upstream.requests.at(-1)!;
    // SDK 1.x sends the key as a Bearer token and its own API version.
    expect(last.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(last.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(last.json).toMatchObject(ask);
  });

  it('streams the same answer in Anthropic’s event sequence', async () => {
    const stream = client.messages.stream(ask);
    const message = await stream.finalMessage();
    expect(message.content).toEqual([
      {
        type: 'thinking',
        thinking: reply.thinking![0]!.text,
        signature: reply.thinking![0]!.signature,
      },
      { type: 'text', text: 'The GCD is 21.' },
      {
        type: 'tool_use',
        id: expect.stringMatching(/^toolu_/),
        name: 'get_weather',
        input: { location: 'San Francisco, CA', unit: 'fahrenheit' },
      },
    ]);
    expect(message.usage.output_tokens).toBe(89);
    const raw = await fetch(`${upstream.url}/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': KEY,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...ask, stream: true }),
    }).then((r) => r.text());
    checkMessagesStream(raw);
    expect(raw).toContain('event: ping\n');
    expect(raw).toContain('"type":"signature_delta"');
  });

  it('counts tokens and lists models', async () => {
    expect(
      await client.messages.countTokens({ model: 'claude-opus-4-8', messages: ask.messages }),
    ).toEqual({
      input_tokens: 472,
    });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('claude-opus-4-8');
  });

  it.each([
    ['claude-x-err-401', Anthropic.AuthenticationError, 401],
    ['claude-x-err-429', Anthropic.RateLimitError, 429],
    ['claude-x-err-529', Anthropic.InternalServerError, 529],
    ['claude-x-err-400', Anthropic.BadRequestError, 400],
  ] as const)('raises the SDK’s error class for %s', async (model, cls, status) => {
    const error = await client.messages.create({ ...ask, model }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(cls);
    expect((error as InstanceType<typeof cls>).status).toBe(status);
  });

  it('sends retry-after with a 429', async () => {
    const res = await fetch(`${upstream.url}/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...ask, model: 'claude-x-err-429' }),
    });
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('breaks a stream with an in-stream error event, which the SDK raises', async () => {
    const stream = client.messages.stream({ ...ask, model: 'claude-x-stream-error-3' });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
  });

  it('cuts a stream after N events when asked', async () => {
    const stream = client.messages.stream({ ...ask, model: 'claude-x-drop-4' });
    await expect(stream.finalMessage()).rejects.toThrow();
  });

  it('refuses what Anthropic refuses: empty text, unsafe tool ids, a second result for one id', async () => {
    const bad = async (messages: unknown) =>
      client.messages.create({ ...ask, messages: messages as never }).catch((e: unknown) => e);
    expect(await bad([{ role: 'user', content: [{ type: 'text', text: ' ' }] }])).toBeInstanceOf(
      Anthropic.BadRequestError,
    );
    expect(
      await bad([
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 'functions.f:0', name: 'f', input: {} }],
        },
      ]),
    ).toBeInstanceOf(Anthropic.BadRequestError);
    expect(
      await bad([
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'a' },
            { type: 'tool_result', tool_use_id: 't1', content: 'a' },
          ],
        },
      ]),
    ).toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('takes a scripted reply and a delay for one request', async () => {
    upstream.scripts.push({
      kind: 'delay',
      ms: 50,
      then: { kind: 'reply', reply: { text: 'scripted' } },
    });
    const started = Date.now();
    const message = await client.messages.create(ask);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(message.content).toEqual([{ type: 'text', text: 'scripted' }]);
  });
});
