import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFile } from 'openai';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-bob-0123456789abcdef0123';
const UPSTREAM_KEY = 'sk-upstream-openai-secret-2';

describe('the other OpenAI endpoints, through the official SDK', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: UPSTREAM_KEY,
      promptTokens: 13,
      completionTokens: 5,
    });
    t = await startTestRelay({
      channels: [
        {
          name: 'openai',
          baseUrl: upstream.url,
          apiKey: UPSTREAM_KEY,
          models: [
            'gpt-4o-mini',
            'gpt-3.5-turbo-instruct',
            'text-embedding-3-small',
            'whisper-1',
            'gpt-4.1',
          ],
        },
      ],
      keys: [{ name: 'bob', key: KEY, quota: 10 }],
      prices: {
        'text-embedding-3-small': { input: 0.02 },
        'gpt-4.1': { input: 2, output: 8 },
        'whisper-1': { input: 1, output: 1 },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const lastRow = async (endpoint: string) => {
    const store = t.store();
    return eventually(() => {
      const row = store.listUsage({ limit: 1 })[0];
      expect(row?.endpoint).toBe(endpoint);
      return row!;
    });
  };

  it('POST /v1/completions, JSON and streamed', async () => {
    const res = await t
      .client(KEY)
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' });
    expect(res.choices[0]?.text).toBe('您好！有什么我可以帮助您的吗？');
    const stream = await t
      .client(KEY)
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe('您好！有什么我可以帮助您的吗？');
    expect(await lastRow('/completions')).toMatchObject({
      promptTokens: 13,
      completionTokens: 5,
      source: 'upstream',
    });
  });

  it('POST /v1/embeddings bills prompt tokens only', async () => {
    const res = await t.client(KEY).embeddings.create({
      model: 'text-embedding-3-small',
      input: ['a', 'b'],
      encoding_format: 'float',
    });
    expect(res.data).toHaveLength(2);
    expect(res.data[1]?.embedding).toEqual([0.0023064255, -0.009327292, 0.015797347]);
    const row = await lastRow('/embeddings');
    expect(row).toMatchObject({
      promptTokens: 13,
      completionTokens: 0,
      costMicros: Math.ceil(13 * 0.02),
    });
  });

  it('POST /v1/responses, JSON and streamed with named events', async () => {
    const res = await t.client(KEY).responses.create({ model: 'gpt-4.1', input: 'hi' });
    expect(res.output_text).toBe('您好！有什么我可以帮助您的吗？');
    expect(await lastRow('/responses')).toMatchObject({
      promptTokens: 13,
      completionTokens: 5,
      costMicros: 13 * 2 + 5 * 8,
    });

    const stream = await t
      .client(KEY)
      .responses.create({ model: 'gpt-4.1', input: 'hi', stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe('您好！有什么我可以帮助您的吗？');
    expect(await lastRow('/responses')).toMatchObject({
      source: 'upstream',
      promptTokens: 13,
      completionTokens: 5,
    });
  });

  it('POST /v1/audio/transcriptions streams the file through byte for byte', async () => {
    const audio = randomBytes(3 * 1024 * 1024 + 17);
    const res = await t.client(KEY).audio.transcriptions.create({
      model: 'whisper-1',
      file: await toFile(audio, 'speech.mp3', { type: 'audio/mpeg' }),
      language: 'en',
    });
    expect(res.text).toBe('Hello from the fixture.');
    const sent = upstream.requests.at(-1)!;
    expect(sent.fields).toMatchObject({ model: 'whisper-1', language: 'en' });
    expect(sent.files).toEqual([
      {
        field: 'file',
        filename: 'speech.mp3',
        size: audio.length,
        sha256: createHash('sha256').update(audio).digest('hex'),
      },
    ]);
    expect(sent.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(await lastRow('/audio/transcriptions')).toMatchObject({
      model: 'whisper-1',
      promptTokens: 13,
      completionTokens: 5,
    });
  });

  it('GET /v1/models lists only what the key may use', async () => {
    const all = await t.client(KEY).models.list();
    expect(all.data.map((m) => m.id)).toContain('gpt-4.1');
    const one = await t.client(KEY).models.retrieve('gpt-4o-mini');
    expect(one).toMatchObject({ id: 'gpt-4o-mini', object: 'model', owned_by: 'openai' });
  });

  it('serves the same endpoints without the /v1 prefix, for clients whose base URL is the bare host', async () => {
    const res = await fetch(`${t.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
  });
});
