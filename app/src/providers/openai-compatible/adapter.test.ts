import { FormData } from 'undici';
import { describe, expect, it } from 'vitest';
import { channelSchema } from '../../config.ts';
import type { ProxyJob } from '../../core/job.ts';
import { openAiDialect } from '../../dialects/openai/index.ts';
import { openAiCompatibleAdapter as adapter } from './adapter.ts';

const channel = channelSchema.parse({
  name: 'ds',
  baseUrl: 'https://api.deepseek.com/v1/',
  apiKey: 'sk-upstream',
  headers: { 'X-Org': 'team-a', Authorization: 'Bearer sk-override' },
});
const base = {
  channel,
  stream: false,
  defaultMaxTokens: 4096,
  headers: { 'openai-beta': 'assistants=v2' },
};
const job = {
  dialect: openAiDialect,
  operation: 'chat',
  clientWantsUsage: false,
} as unknown as ProxyJob;

describe('the OpenAI-compatible adapter', () => {
  it('serves every OpenAI endpoint to OpenAI clients, and only chat to other dialects', () => {
    expect(adapter.serves('/embeddings', 'openai')).toBe(true);
    expect(adapter.serves('chat', 'anthropic')).toBe(true);
    expect(adapter.serves('/embeddings', 'anthropic')).toBe(false);
    // Token counting is the relay's own estimate for channels of this kind.
    expect(adapter.serves('count_tokens', 'anthropic')).toBe(false);
  });

  it('sends the client body with the channel key, its headers winning, at the operation path', () => {
    const req = adapter.buildRequest({
      ...base,
      operation: 'chat',
      json: { model: 'deepseek-chat', messages: [] },
    });
    expect(req.url).toBe('https://api.deepseek.com/v1/chat/completions');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer sk-override',
      'x-org': 'team-a',
      'openai-beta': 'assistants=v2',
      'content-type': 'application/json',
      accept: 'application/json',
    });
    expect(JSON.parse(req.body as string)).toEqual({ model: 'deepseek-chat', messages: [] });
    const stream = adapter.buildRequest({
      ...base,
      stream: true,
      operation: '/embeddings',
      json: {},
    });
    expect(stream.url).toBe('https://api.deepseek.com/v1/embeddings');
    expect(stream.headers.accept).toBe('text/event-stream');
  });

  it('builds a chat body from the neutral request, and leaves a form its own content type', () => {
    const req = adapter.buildRequest({
      ...base,
      operation: 'chat',
      chat: {
        model: 'deepseek-chat',
        system: [],
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
        tools: [],
        stop: [],
        stream: false,
      },
    });
    expect(JSON.parse(req.body as string)).toEqual({
      model: 'deepseek-chat',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const form = adapter.buildRequest({
      ...base,
      operation: '/audio/transcriptions',
      form: new FormData(),
    });
    expect(form.headers['content-type']).toBeUndefined();
    expect(form.body).toBeInstanceOf(FormData);
  });

  it('reads usage from any answer, the neutral answer only when translating', () => {
    const answer = {
      id: 'x',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1 },
    };
    expect(adapter.decodeJson(answer, job, false)).toEqual({
      usage: { promptTokens: 3, completionTokens: 1 },
    });
    expect(adapter.decodeJson(answer, job, true).response).toMatchObject({
      content: [{ type: 'text', text: 'Hi' }],
      stopReason: 'end_turn',
    });
    expect(adapter.decodeJson({ data: [] }, job, true).failure).toMatchObject({
      kind: 'malformed',
    });
  });

  it('lists models, Gemini’s models/ prefix left off', () => {
    const list = adapter.buildListModels(channel);
    expect(list).toMatchObject({ url: 'https://api.deepseek.com/v1/models', method: 'GET' });
    expect(
      adapter.parseModelList({
        data: [{ id: 'deepseek-chat' }, { id: 'models/gemini-2.5-pro' }, { id: 7 }],
      }),
    ).toEqual(['deepseek-chat', 'gemini-2.5-pro']);
    expect(adapter.parseModelList({ error: 'x' })).toEqual([]);
  });
});
