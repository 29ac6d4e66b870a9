import { describe, expect, it } from 'vitest';
import { channelSchema } from '../../config.ts';
import { geminiAdapter } from './adapter.ts';

const channel = channelSchema.parse({
  name: 'g',
  type: 'gemini',
  baseUrl: 'https://generativelanguage.googleapis.com/v1beta/',
  apiKey: 'AIza-secret',
  headers: { 'X-Goog-User-Project': 'p1' },
});
const base = { channel, defaultMaxTokens: 1024, headers: {} };

describe('geminiAdapter', () => {
  it('puts the model in the path and the key in x-goog-api-key, never in the URL', () => {
    const json = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    const req = geminiAdapter.buildRequest({
      ...base,
      operation: 'chat',
      stream: true,
      model: 'models/gemini-2.5-flash',
      json,
    });
    expect(req.url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(req.url).not.toContain('AIza');
    expect(req.headers).toMatchObject({
      'x-goog-api-key': 'AIza-secret',
      accept: 'text/event-stream',
      'x-goog-user-project': 'p1',
    });
    expect(req.body).toBe(JSON.stringify(json));
    const whole = geminiAdapter.buildRequest({
      ...base,
      operation: 'chat',
      stream: false,
      model: 'gemini-2.5-flash',
      json,
    });
    expect(whole.url).toMatch(/\/models\/gemini-2\.5-flash:generateContent$/);
  });

  it('counts with the route’s model, in the path and in a wrapped request alike', () => {
    const req = geminiAdapter.buildRequest({
      ...base,
      operation: 'count_tokens',
      stream: false,
      model: 'gemini-2.5-pro',
      json: { generateContentRequest: { model: 'models/alias', contents: [] } },
    });
    expect(req.url).toMatch(/\/models\/gemini-2\.5-pro:countTokens$/);
    expect(JSON.parse(req.body as string)).toEqual({
      generateContentRequest: { model: 'models/gemini-2.5-pro', contents: [] },
    });
  });

  it('translates chat for other dialects and counts only Gemini requests', () => {
    expect(geminiAdapter.serves('chat', 'openai')).toBe(true);
    expect(geminiAdapter.serves('count_tokens', 'gemini')).toBe(true);
    expect(geminiAdapter.serves('count_tokens', 'anthropic')).toBe(false);
    expect(geminiAdapter.serves('/embeddings', 'openai')).toBe(false);
    const req = geminiAdapter.buildRequest({
      ...base,
      operation: 'chat',
      stream: false,
      chat: {
        model: 'gemini-2.5-flash',
        system: [],
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
        tools: [],
        stop: [],
        stream: false,
      },
    });
    expect(JSON.parse(req.body as string)).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
    });
  });

  it('lists models without their models/ prefix', () => {
    expect(geminiAdapter.buildListModels(channel).url).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000',
    );
    expect(
      geminiAdapter.parseModelList({
        models: [{ name: 'models/gemini-2.5-flash' }, { name: 7 }, {}],
      }),
    ).toEqual(['gemini-2.5-flash']);
  });
});
