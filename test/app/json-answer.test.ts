/**
 * A whole JSON answer as a client receives it over a socket. The relay writes it to Node's
 * response itself (proxy/reply.ts), as it does a stream's head: its length, its status and the
 * relay's own headers must come out as they did through the adapter's Response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-json-answer-0123456789abcdef';
const UPSTREAM_KEY = 'sk-upstream-json-answer-secret';
/** Three- and four-byte characters: a length counted in UTF-16 units would be short. */
const REPLY = '您好！🦜 有什么我可以帮助您的吗？';

describe('a JSON chat answer over a socket', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: UPSTREAM_KEY, reply: REPLY });
    t = await startTestRelay({
      server: { corsOrigins: ['https://app.example'] },
      channels: [{ name: 'main', baseUrl: upstream.url, apiKey: UPSTREAM_KEY, models: ['gpt-4o'] }],
      keys: [{ name: 'json', key: KEY, quota: 1 }],
      prices: { 'gpt-4o': { input: 2.5, output: 10 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const chat = (origin: string | null = 'https://app.example') =>
    fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        ...(origin !== null && { origin }),
      },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });

  const accessLine = (requestId: string | null) =>
    eventually(() => {
      const line = t.logs.find((l) => l.msg === 'request' && l.requestId === requestId);
      if (!line) throw new Error(`no access line for ${requestId}`);
      return line;
    });

  it('arrives whole, with its length in bytes, the relay’s headers and CORS', async () => {
    const res = await chat();
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(bytes.toString('utf8')) as {
      choices: Array<{ message: { content: string } }>;
    };
    expect(body.choices[0]!.message.content).toBe(REPLY);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get('x-relay-overhead-ms')).toMatch(/^\d+\.\d{3}$/);
    expect(res.headers.get('server-timing')).toMatch(/^relay;dur=[\d.]+;desc="relay processing"/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-relay-overhead-ms');
    expect(await accessLine(id)).toMatchObject({ status: 200, channel: 'main', attempts: 1 });
  });

  it('goes to a client that sent no Origin (no browser) with the relay’s headers, without CORS', async () => {
    const res = await chat(null);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get('server-timing')).toMatch(/^relay;dur=/);
    for (const name of ['access-control-allow-origin', 'access-control-expose-headers', 'vary'])
      expect(res.headers.get(name), name).toBeNull();
  });

  it('keeps an upstream’s other 2xx status, in the answer and in its access line', async () => {
    upstream.overrides.push((_req, res) => {
      res.writeHead(203, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-203',
          object: 'chat.completion',
          created: 1741676945,
          model: 'gpt-4o',
          choices: [
            { index: 0, message: { role: 'assistant', content: REPLY }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
        }),
      );
      return Promise.resolve(true);
    });
    const res = await chat();
    const text = await res.text();
    expect(res.status).toBe(203);
    expect(JSON.parse(text)).toMatchObject({ id: 'chatcmpl-203' });
    expect(await accessLine(res.headers.get('x-request-id'))).toMatchObject({
      status: 203,
      promptTokens: 3,
      completionTokens: 5,
    });
  });
});
