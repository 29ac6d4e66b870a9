import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-newcomer-0123456789abcdef';
const NARROW = 'sk-narrow-models-0123456789';

describe('GET /v1/models for a relay configured only by OPENAI_API_KEY', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'sk-env-openai-key' });
    // No channels in the file: the channel comes from the environment, with model patterns only.
    t = await startTestRelay(
      {
        keys: [
          { name: 'me', key: KEY },
          { name: 'narrow', key: NARROW, models: ['gpt-4o-mini'] },
        ],
      },
      { OPENAI_API_KEY: 'sk-env-openai-key', OPENAI_BASE_URL: upstream.url },
    );
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const listCalls = () =>
    upstream.requests.filter((r) => r.method === 'GET' && r.path === '/v1/models').length;

  it("lists the upstream's models that the channel's patterns cover, so a model picker is never empty", async () => {
    const models = await t.client(KEY).models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual([
      'dall-e-3',
      'gpt-4o',
      'gpt-4o-mini',
      'text-embedding-3-small',
      'whisper-1',
    ]);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'openai' });
    // davinci-002 matches none of the openai channel's patterns
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-env-openai-key');
  });

  it('asks the upstream once and serves the list from memory after that', async () => {
    const before = listCalls();
    await t.client(KEY).models.list();
    await t.client(NARROW).models.list();
    expect(listCalls()).toBe(before);
  });

  it("still filters by the key's own model patterns", async () => {
    const models = await t.client(NARROW).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['gpt-4o-mini']);
  });

  it('chats through the env channel with the same key', async () => {
    const res = await t
      .client(KEY)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.choices[0]?.message.content).toBeTruthy();
  });
});

describe('an upstream that cannot list its models', () => {
  it('contributes nothing rather than failing the request', async () => {
    const upstream = await startOpenAiUpstream({ apiKey: 'right-key' });
    const t = await startTestRelay({
      channels: [
        {
          name: 'p',
          baseUrl: upstream.url,
          apiKey: 'wrong-key',
          models: ['gpt-*'],
          modelMap: { fast: 'gpt-4o-mini' },
        },
      ],
      keys: [{ name: 'me', key: KEY }],
    });
    try {
      const models = await t.client(KEY).models.list();
      expect(models.data.map((m) => m.id)).toEqual(['fast']);
      expect(t.rawLog.join('\n')).not.toContain('wrong-key');
    } finally {
      await t.close();
      await upstream.close();
    }
  });
});
