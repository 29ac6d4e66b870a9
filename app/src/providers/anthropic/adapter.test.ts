import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelSchema } from '../../config.ts';
import type { ChannelConfig } from '../../config.ts';
import type { ChatRequest } from '../../core/chat.ts';
import type { ProxyJob } from '../../core/job.ts';
import { sseEvents } from '../../streaming/sse.ts';
import { startAnthropicUpstream } from '../../../../test/fixtures/anthropic-upstream.ts';
import type { AnthropicUpstream } from '../../../../test/fixtures/anthropic-upstream.ts';
import type { BuildRequestInput, DecodedEvent, UpstreamRequest } from '../types.ts';
import { anthropicAdapter } from './adapter.ts';
import { anthropicToolName } from './names.ts';

const KEY = 'sk-ant-channel-key';
let upstream: AnthropicUpstream;
let channel: ChannelConfig;

beforeAll(async () => {
  upstream = await startAnthropicUpstream({
    apiKey: KEY,
    reply: {
      thinking: [{ text: 'Think.', signature: 'sig-1' }],
      text: 'Here.',
      toolCalls: [{ name: anthropicToolName(LONG), input: { q: 'x' } }],
      usage: { input: 40, output: 30, cacheRead: 60 },
    },
  });
  channel = channelSchema.parse({
    name: 'claude',
    baseUrl: upstream.url,
    apiKey: KEY,
    headers: { 'X-Team': 'relay' },
  });
});
afterAll(() => upstream.close());

const LONG = `mcp__search__${'find_documents_by_query_'.repeat(3)}`;

const chat: ChatRequest = {
  model: 'claude-sonnet-4-5',
  system: [{ type: 'text', text: 'Be brief.' }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Find it.' }] }],
  tools: [{ name: LONG, inputSchema: { type: 'object', properties: { q: { type: 'string' } } } }],
  stop: [],
  stream: false,
};

const job = (over: Partial<ProxyJob> = {}): ProxyJob =>
  ({
    operation: 'chat',
    model: 'client-model',
    stream: false,
    chat: () => chat,
    estimate: { promptTokens: 10, completionTokens: 10 },
    ...over,
  }) as ProxyJob;

const input = (over: Partial<BuildRequestInput>): BuildRequestInput => ({
  channel,
  operation: 'chat',
  stream: false,
  defaultMaxTokens: 4096,
  headers: {},
  ...over,
});

const send = (req: UpstreamRequest) =>
  fetch(req.url, { method: req.method, headers: req.headers, body: req.body as string | null });

describe('anthropicAdapter', () => {
  it('serves chat for every dialect and count_tokens only to Anthropic clients', () => {
    expect(anthropicAdapter.dialect).toBe('anthropic');
    expect(anthropicAdapter.serves('chat', 'openai')).toBe(true);
    expect(anthropicAdapter.serves('chat', 'gemini')).toBe(true);
    expect(anthropicAdapter.serves('count_tokens', 'anthropic')).toBe(true);
    expect(anthropicAdapter.serves('count_tokens', 'openai')).toBe(false);
    expect(anthropicAdapter.serves('/embeddings', 'openai')).toBe(false);
  });

  it('passes an Anthropic client’s body and beta headers through, with the channel’s key', async () => {
    // History with signed thinking and a redacted block: the upstream must get them verbatim.
    const json = {
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Greet back.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
            { type: 'text', text: 'Hello!' },
          ],
        },
        { role: 'user', content: 'Again' },
      ],
    };
    const req = anthropicAdapter.buildRequest(
      input({
        json,
        headers: {
          'anthropic-beta': 'interleaved-thinking-2025-05-14',
          'anthropic-version': '2026-10-21',
          authorization: 'Bearer sk-relay-client-key',
          'x-api-key': 'sk-relay-client-key',
        },
      }),
    );
    expect(req.url).toBe(`${upstream.url}/messages`);
    expect(JSON.parse(req.body as string)).toEqual(json);
    expect(req.headers).toMatchObject({
      'x-api-key': KEY,
      'anthropic-version': '2026-10-21',
      'anthropic-beta': 'interleaved-thinking-2025-05-14',
      'x-team': 'relay',
    });
    // The client's relay key never goes upstream.
    expect(JSON.stringify(req.headers)).not.toContain('sk-relay-client-key');
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(upstream.requests.at(-1)!.json).toEqual(json);
    const decoded = anthropicAdapter.decodeJson(await res.json(), job(), false);
    expect(decoded).toEqual({
      usage: { promptTokens: 100, completionTokens: 30, cacheReadTokens: 60 },
    });
  });

  it('translates: the default version, no client headers, a body Anthropic takes, names mapped back', async () => {
    const req = anthropicAdapter.buildRequest(input({ chat, headers: { 'anthropic-beta': 'x' } }));
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers).not.toHaveProperty('anthropic-beta');
    const res = await send(req);
    expect(res.status).toBe(200);
    const sent = upstream.requests.at(-1)!.json!;
    expect(sent).toMatchObject({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: [{ type: 'text', text: 'Be brief.' }],
    });
    expect(sent).not.toHaveProperty('stream');
    const decoded = anthropicAdapter.decodeJson(await res.json(), job(), true);
    expect(decoded.response?.content).toEqual([
      { type: 'thinking', text: 'Think.', signature: 'sig-1' },
      { type: 'text', text: 'Here.' },
      { type: 'tool_call', id: expect.stringMatching(/^toolu_/), name: LONG, input: { q: 'x' } },
    ]);
    expect(decoded.response?.stopReason).toBe('tool_use');
  });

  it('streams a translated request and decodes it back to neutral events', async () => {
    const req = anthropicAdapter.buildRequest(input({ chat, stream: true }));
    expect(req.headers.accept).toBe('text/event-stream');
    const res = await send(req);
    expect(upstream.requests.at(-1)!.json).toMatchObject({ stream: true });
    const decoder = anthropicAdapter.streamDecoder(job({ stream: true }), true);
    const decoded: DecodedEvent[] = [];
    for await (const m of sseEvents(res.body!)) decoded.push(decoder.decode(m));
    expect(decoded.at(-1)!.finished).toBe(true);
    const starts = decoded.flatMap((d) => d.events).filter((e) => e.type === 'block_start');
    expect(starts.map((e) => e.type === 'block_start' && e.block.type)).toEqual([
      'thinking',
      'text',
      'tool_call',
    ]);
    expect(starts[2]).toMatchObject({ block: { name: LONG } });
    expect(decoded.findLast((d) => d.usage)?.usage).toEqual({
      promptTokens: 100,
      completionTokens: 30,
      cacheReadTokens: 60,
    });
  });

  it('counts tokens at /messages/count_tokens, passing through, billing nothing', async () => {
    const json = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] };
    const req = anthropicAdapter.buildRequest(input({ operation: 'count_tokens', json }));
    expect(req.url).toBe(`${upstream.url}/messages/count_tokens`);
    const res = await send(req);
    expect(await res.json()).toEqual({ input_tokens: 40 });
    expect(
      anthropicAdapter.decodeJson({ input_tokens: 40 }, job({ operation: 'count_tokens' }), false),
    ).toEqual({});
  });

  it('classifies the upstream’s errors', async () => {
    const req = anthropicAdapter.buildRequest(
      input({ chat: { ...chat, model: 'claude-x-err-529' } }),
    );
    const res = await send(req);
    const failure = anthropicAdapter.classifyError({
      status: res.status,
      headers: res.headers,
      bodyText: await res.text(),
      now: Date.now(),
    });
    expect(failure).toMatchObject({
      kind: 'http-status',
      status: 529,
      error: { type: 'overloaded_error' },
    });
  });

  it('reports a 2xx that is not a message as a failure', () => {
    expect(anthropicAdapter.decodeJson({ hello: 1 }, job(), true).failure?.kind).toBe('malformed');
    expect(
      anthropicAdapter.decodeJson(
        { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
        job(),
        false,
      ).failure?.kind,
    ).toBe('stream-error');
  });

  it('lists the upstream’s models with the same credentials', async () => {
    const req = anthropicAdapter.buildListModels(channel);
    expect(req).toMatchObject({ url: `${upstream.url}/models`, method: 'GET', body: null });
    expect(req.headers).toMatchObject({ 'x-api-key': KEY, 'anthropic-version': '2023-06-01' });
    const json = await send(req).then((r) => r.json());
    expect(anthropicAdapter.parseModelList(json)).toEqual([
      'claude-opus-4-8',
      'claude-sonnet-4-6',
      'claude-haiku-4-5',
    ]);
    expect(anthropicAdapter.parseModelList({ nope: true })).toEqual([]);
  });
});
