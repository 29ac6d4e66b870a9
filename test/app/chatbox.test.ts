import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = '449175e4c05f92119361dfa24887ec3709311ef';

/** The request the Chatbox desktop app (1.10.5, Electron) sends, headers and all. */
const chatboxHeaders = (contentLength: number) => ({
  connection: 'keep-alive',
  'content-length': String(contentLength),
  'sec-ch-ua': '"Not?A_Brand";v="8", "Chromium";v="108"',
  'sec-ch-ua-mobile': '?0',
  'user-agent':
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) xyz.chatboxapp.app/1.10.5 Chrome/108.0.5359.215 Electron/22.3.27 Safari/537.36',
  authorization: `Bearer ${KEY}`,
  'content-type': 'application/json',
  baggage:
    'sentry-environment=production,sentry-release=1.10.5,sentry-public_key=3cf8d15960fc432cb886d6f62e3716dc,sentry-trace_id=57d8ffae51e3445fa53f0328bdd3536a',
  'sentry-trace': '57d8ffae51e3445fa53f0328bdd3536a-825f60796cb21e4b',
  'sec-ch-ua-platform': '"macOS"',
  accept: '*/*',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
  'accept-encoding': 'gzip, deflate, br',
  'accept-language': 'en-US',
});

const chatboxBody = {
  messages: [
    {
      role: 'system',
      content:
        '\nCurrent model: deepseek-r1\nCurrent date: 2025-03-11T07:18:15.877Z\n\nYou are a helpful assistant.',
    },
    { role: 'user', content: '您好' },
    {
      role: 'assistant',
      content:
        '欢迎您来到深度求索!我是深度求索的一款智能助手,随时准备帮助您解答问题、提供信息或者进行愉快的对话。请随时告诉我您需要什么帮助,我会尽力提供!',
    },
    { role: 'user', content: '您好' },
    { role: 'assistant', content: '您好!有什么我可以帮助您的吗?' },
    { role: 'user', content: '您好' },
  ],
  model: 'deepseek-r1',
  temperature: 0.7,
  top_p: 0.9,
  stream: true,
};

describe('the Chatbox desktop client', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'sk-ds-upstream', reasoning: '用户在打招呼。' });
    t = await startTestRelay({
      channels: [
        {
          name: 'deepseek',
          baseUrl: upstream.url,
          apiKey: 'sk-ds-upstream',
          models: ['deepseek-chat', 'deepseek-reasoner'],
          modelMap: { 'deepseek-r1': 'deepseek-reasoner' },
        },
      ],
      keys: [{ name: 'chatbox-user', key: KEY, quota: 1 }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('streams its exact request (Sentry headers, multi-turn Chinese, deepseek-r1 alias) to the real model name', async () => {
    const body = Buffer.from(JSON.stringify(chatboxBody));
    const res = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: chatboxHeaders(body.length),
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map(
      (e) =>
        JSON.parse(e.replace(/^data: /, '')) as {
          model: string;
          choices: { delta: { content?: string | null; reasoning_content?: string } }[];
        },
    );
    expect(chunks.every((c) => c.model === 'deepseek-reasoner')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')).toBe(
      '用户在打招呼。',
    );
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      '您好！有什么我可以帮助您的吗？',
    );

    const sent = upstream.requests.at(-1)!;
    expect(sent.json).toEqual({
      ...chatboxBody,
      model: 'deepseek-reasoner',
      stream_options: { include_usage: true },
    });
    for (const h of [
      'sentry-trace',
      'baggage',
      'sec-fetch-site',
      'sec-fetch-dest',
      'sec-ch-ua',
      'sec-ch-ua-platform',
    ]) {
      expect(sent.headers[h]).toBeUndefined();
    }
    expect(sent.headers['user-agent']).not.toContain('chatboxapp');
  });

  it('answers the browser preflight it sends, from any origin, echoing the requested headers', async () => {
    const res = await fetch(`${t.baseUrl}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://web.chatboxai.app',
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'authorization,content-type,x-stainless-os,x-stainless-lang,x-stainless-retry-count',
      },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe(
      'GET,POST,PUT,PATCH,DELETE,OPTIONS',
    );
    expect(res.headers.get('access-control-allow-headers')).toContain('x-stainless-retry-count');
  });
});
