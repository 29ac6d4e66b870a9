/**
 * Gemini through the relay, as the official clients see it: @google/genai passed through to a
 * gemini channel and translated to OpenAI and Anthropic channels, and the openai and Anthropic
 * SDKs on a gemini channel. Keys (x-goog-api-key or ?key=), errors in Google's shape, thought
 * signatures, failover across dialects and the one usage row hold as on chat.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { Type } from '@google/genai';
import type OpenAI from 'openai';
import type { Content, FunctionDeclaration, Part } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import type { AnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import { startGeminiUpstream } from '../fixtures/gemini-upstream.ts';
import type { GeminiUpstream } from '../fixtures/gemini-upstream.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-gemini-client-0123456789';
const UP_KEY = 'up-gemini-key-0123456789';
const LIMITED = 'sk-gemini-rpm-0123456789';
const POOR = 'sk-gemini-poor-0123456789';

const WEATHER: FunctionDeclaration = {
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: {
    type: Type.OBJECT,
    properties: { city: { type: Type.STRING } },
    required: ['city'],
  },
};

describe('Gemini clients and gemini channels', () => {
  let gemini: GeminiUpstream;
  let openai: FakeUpstream;
  let claude: AnthropicUpstream;
  let t: TestRelay;
  let genai: GoogleGenAI;

  beforeAll(async () => {
    gemini = await startGeminiUpstream({
      apiKey: UP_KEY,
      reply: {
        thought: 'The user greets me.',
        text: 'Hello from Gemini, nice to meet you.',
        usage: { prompt: 40, output: 10, thoughts: 6, cached: 16 },
      },
    });
    openai = await startOpenAiUpstream({ apiKey: 'up-openai-key', reply: 'Hello from DeepSeek.' });
    claude = await startAnthropicUpstream({
      apiKey: 'up-anthropic-key',
      reply: { text: 'Hello from Claude.', usage: { input: 30, output: 12 } },
    });
    t = await startTestRelay({
      server: { heartbeatMs: 50 },
      channels: [
        {
          name: 'gemini',
          type: 'gemini',
          baseUrl: gemini.url,
          apiKey: UP_KEY,
          models: ['gemini-*'],
          modelMap: { flash: 'gemini-2.5-flash' },
        },
        {
          name: 'deepseek',
          baseUrl: openai.url,
          apiKey: 'up-openai-key',
          models: ['deepseek-chat'],
        },
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['claude-*'],
        },
      ],
      keys: [
        { name: 'dev', key: KEY, quota: 10 },
        { name: 'limited', key: LIMITED, rpm: 1 },
        { name: 'poor', key: POOR, quota: 0.000001 },
      ],
      prices: { 'gemini-2.5-flash': { input: 0.3, output: 2.5, cacheRead: 0.075 } },
    });
    genai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: t.baseUrl } });
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
    await openai?.close();
    await claude?.close();
  });
  beforeEach(() => {
    gemini.requests.length = 0;
    openai.requests.length = 0;
    claude.requests.length = 0;
  });

  const rowsFor = (model: string) =>
    t
      .store()
      .listUsage()
      .filter((r) => r.model === model);

  describe('@google/genai on a gemini channel: passed through', () => {
    it('sends the body upstream as the client wrote it (the model is in the path)', async () => {
      // Spacing, key order and number spelling kept: nothing was re-serialised.
      const asIs = `{ "generationConfig": {"temperature": 0.50},\n  "contents": [{"role":"user","parts":[{"text":"hi"}]}] }`;
      const res = await fetch(`${t.baseUrl}/v1beta/models/gemini-2.5-flash:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
        body: asIs,
      });
      expect(res.status).toBe(200);
      await res.text();
      expect(gemini.requests.at(-1)!.text).toBe(asIs);
    });

    it('answers generateContent with the upstream answer, its key swapped and the model rewritten', async () => {
      const response = await genai.models.generateContent({
        model: 'flash',
        contents: 'Hello',
        config: { temperature: 0.2, thinkingConfig: { includeThoughts: true } },
      });
      expect(response.text).toBe('Hello from Gemini, nice to meet you.');
      expect(response.usageMetadata).toMatchObject({
        promptTokenCount: 40,
        candidatesTokenCount: 10,
        thoughtsTokenCount: 6,
        cachedContentTokenCount: 16,
      });
      const sent = gemini.requests.at(-1)!;
      expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
      expect(sent.headers['x-goog-api-key']).toBe(UP_KEY);
      expect(JSON.stringify(sent.headers)).not.toContain(KEY);
      expect(sent.json).toMatchObject({
        contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
        generationConfig: { temperature: 0.2, thinkingConfig: { includeThoughts: true } },
      });
      // Thoughts are output, cached tokens part of the prompt: 40 × 0.3 − 16 × (0.3 − 0.075) + 16 × 2.5.
      const row = await eventually(() => {
        const rows = rowsFor('flash');
        expect(rows).toHaveLength(1);
        return rows[0]!;
      });
      expect(row).toMatchObject({
        endpoint: '/models:generateContent',
        channel: 'gemini',
        upstreamModel: 'gemini-2.5-flash',
        status: 200,
        promptTokens: 40,
        completionTokens: 16,
        cacheReadTokens: 16,
        reasoningTokens: 6,
      });
    });

    it('streams the upstream events unchanged, and bills the stream once', async () => {
      const request = (base: string, key: string) =>
        fetch(`${base}/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
          method: 'POST',
          headers: { 'x-goog-api-key': key, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] }),
        });
      const relayed = await (await request(`${t.baseUrl}/v1beta`, KEY)).text();
      const direct = await (await request(gemini.url, UP_KEY)).text();
      const data = (s: string) => s.split(/\r?\n/).filter((l) => l.startsWith('data: '));
      expect(data(relayed)).toEqual(data(direct));

      let text = '';
      for await (const chunk of await genai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'Hello',
      }))
        text += chunk.text ?? '';
      expect(text).toBe('Hello from Gemini, nice to meet you.');
      await eventually(() =>
        expect(
          rowsFor('gemini-2.5-flash').filter((r) => r.endpoint === '/models:streamGenerateContent'),
        ).toHaveLength(2),
      );
    });

    it('keeps a Gemini 3 tool loop working: the thought signature goes back where it came from', async () => {
      gemini.scripts.push({
        kind: 'reply',
        reply: {
          calls: [{ name: 'get_weather', args: { city: 'Paris' } }],
          signature: { value: 'CiQB0e2Kb3sig', on: 'call' },
        },
      });
      const contents: Content[] = [{ role: 'user', parts: [{ text: 'Weather in Paris?' }] }];
      const first = await genai.models.generateContent({
        model: 'gemini-3-pro-preview',
        contents,
        config: { tools: [{ functionDeclarations: [WEATHER] }] },
      });
      expect(first.functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Paris' } }]);
      contents.push(first.candidates![0]!.content!, {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { output: 'Sunny, 21 °C' } } },
        ],
      });
      const second = await genai.models.generateContent({
        model: 'gemini-3-pro-preview',
        contents,
        config: { tools: [{ functionDeclarations: [WEATHER] }] },
      });
      expect(second.text).toBe('Hello from Gemini, nice to meet you.');
      expect(gemini.requests.at(-1)!.json!.contents).toContainEqual({
        role: 'model',
        parts: [
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris' } },
            thoughtSignature: 'CiQB0e2Kb3sig',
          },
        ],
      });
    });

    it('counts tokens upstream for the model in the path, and never bills the count', async () => {
      const counted = await genai.models.countTokens({ model: 'flash', contents: 'How many?' });
      expect(counted.totalTokens).toBeGreaterThanOrEqual(31);
      const sent = gemini.requests.at(-1)!;
      expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:countTokens');
      // Written behind the answer: looked for until it is committed.
      const row = await eventually(() => {
        const found = rowsFor('flash').find((r) => r.endpoint === '/models:countTokens');
        if (!found) throw new Error('no countTokens row yet');
        return found;
      });
      expect(row).toMatchObject({ status: 200, costMicros: 0 });
    });

    it('lists the models this key may use, in Gemini’s shape', async () => {
      const pager = await genai.models.list();
      const names = pager.page.map((m) => m.name);
      expect(names).toEqual(
        expect.arrayContaining(['models/deepseek-chat', 'models/flash', 'models/gemini-2.5-flash']),
      );
      const one = await genai.models.get({ model: 'flash' });
      expect(one.name).toBe('models/flash');
    });
  });

  describe('keys and errors in Google’s shape', () => {
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${t.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }),
      });

    it('takes the key as ?key= too, and never writes it to a log line', async () => {
      const res = await post(`/v1beta/models/gemini-2.5-flash:generateContent?key=${KEY}`, {});
      expect(res.status).toBe(200);
      const bad = await post(
        `/v1beta/models/gemini-2.5-flash:generateContent?key=sk-wrong-key-0000000000`,
        {},
      );
      expect(bad.status).toBe(401);
      await eventually(() =>
        expect(t.rawLog.some((l) => l.includes('generateContent'))).toBe(true),
      );
      expect(t.rawLog.filter((l) => l.includes(KEY) || l.includes('sk-wrong-key'))).toEqual([]);
      expect(gemini.requests.every((r) => !r.url.includes('key='))).toBe(true);
    });

    it('answers a missing key, an unknown model and an unknown method as Google would', async () => {
      const missing = await post('/v1beta/models/gemini-2.5-flash:generateContent', {});
      expect(missing.status).toBe(401);
      const body = (await missing.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
      expect(body.error.message).toContain('x-goog-api-key');

      const error = await genai.models
        .generateContent({ model: 'no-such-model', contents: 'Hi' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(404);
      expect((error as ApiError).message).toContain('NOT_FOUND');

      const method = await post('/v1beta/models/gemini-2.5-flash:embedContent', {
        'x-goog-api-key': KEY,
      });
      expect(method.status).toBe(404);
      expect(((await method.json()) as { error: { status: string } }).error.status).toBe(
        'NOT_FOUND',
      );
    });

    it('keeps a slow stream alive with an SSE comment the SDK skips', async () => {
      const res = await fetch(
        `${t.baseUrl}/v1beta/models/gemini-2.5-flash-delay-300:streamGenerateContent?alt=sse`,
        {
          method: 'POST',
          headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }),
        },
      );
      const text = await res.text();
      expect(text.startsWith(': keep-alive\n\n')).toBe(true);
      expect(text).toContain('"finishReason":"STOP"');
      let streamed = '';
      for await (const chunk of await genai.models.generateContentStream({
        model: 'gemini-2.5-flash-delay-300',
        contents: 'Hi',
      }))
        streamed += chunk.text ?? '';
      expect(streamed).toBe('Hello from Gemini, nice to meet you.');
    });

    it('holds a key to its rpm on Gemini’s paths too', async () => {
      const limited = new GoogleGenAI({ apiKey: LIMITED, httpOptions: { baseUrl: t.baseUrl } });
      await limited.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' });
      const error = await limited.models
        .generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' })
        .catch((e: unknown) => e);
      expect((error as ApiError).status).toBe(429);
      expect((error as ApiError).message).toContain('RESOURCE_EXHAUSTED');
    });

    it('refuses a key without quota before calling upstream, as RESOURCE_EXHAUSTED', async () => {
      const poor = new GoogleGenAI({ apiKey: POOR, httpOptions: { baseUrl: t.baseUrl } });
      const error = await poor.models
        .generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' })
        .catch((e: unknown) => e);
      expect((error as ApiError).status).toBe(429);
      expect((error as ApiError).message).toContain('RESOURCE_EXHAUSTED');
      expect(gemini.requests).toHaveLength(0);
    });

    it('passes an upstream rate limit on as RESOURCE_EXHAUSTED after its retries', async () => {
      const error = await genai.models
        .generateContent({ model: 'gemini-2.5-flash-err-429', contents: 'Hi' })
        .catch((e: unknown) => e);
      expect((error as ApiError).status).toBeGreaterThanOrEqual(429);
      expect((error as ApiError).message).toMatch(/RESOURCE_EXHAUSTED|UNAVAILABLE/);
    });

    it('refuses an empty candidate with a clear error, not an empty success', async () => {
      const error = await genai.models
        .generateContent({ model: 'gemini-2.5-flash-empty', contents: 'Hi' })
        .catch((e: unknown) => e);
      expect((error as ApiError).status).toBe(502);
      expect((error as ApiError).message).toContain('empty candidate');
    });

    it('ends a stream that breaks after content with Google’s error event, which the SDK raises', async () => {
      const stream = await genai.models.generateContentStream({
        model: 'gemini-2.5-flash-stream-error-2',
        contents: 'Hi',
      });
      let text = '';
      const error = await (async () => {
        for await (const chunk of stream) text += chunk.text ?? '';
      })().catch((e: unknown) => e);
      expect(text.length).toBeGreaterThan(0);
      expect(error).toBeInstanceOf(ApiError);
    });
  });

  describe('@google/genai on channels of other dialects: translated', () => {
    it('gets an OpenAI channel’s answer as a GenerateContentResponse, JSON and stream', async () => {
      const response = await genai.models.generateContent({
        model: 'deepseek-chat',
        contents: 'Hello',
        config: { systemInstruction: 'Be brief.', maxOutputTokens: 50 },
      });
      expect(response.text).toBe('Hello from DeepSeek.');
      expect(response.candidates![0]!.finishReason).toBe('STOP');
      expect(response.usageMetadata).toMatchObject({
        promptTokenCount: 11,
        candidatesTokenCount: 7,
      });
      expect(openai.requests.at(-1)!.json).toMatchObject({
        model: 'deepseek-chat',
        max_tokens: 50,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello' },
        ],
      });
      let text = '';
      for await (const chunk of await genai.models.generateContentStream({
        model: 'deepseek-chat',
        contents: 'Hello',
      }))
        text += chunk.text ?? '';
      expect(text).toBe('Hello from DeepSeek.');
    });

    it('calls tools on an OpenAI channel and sends the function response back matched to its call', async () => {
      const tools = [{ functionDeclarations: [WEATHER] }];
      const first = await genai.models.generateContent({
        model: 'deepseek-chat',
        contents: 'Weather?',
        config: { tools },
      });
      const call = first.functionCalls![0]!;
      expect(call).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } });
      expect(openai.requests.at(-1)!.json!.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather in a city',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' } },
              required: ['city'],
            },
          },
        },
      ]);
      await genai.models.generateContent({
        model: 'deepseek-chat',
        config: { tools },
        contents: [
          { role: 'user', parts: [{ text: 'Weather?' }] },
          first.candidates![0]!.content!,
          {
            role: 'user',
            parts: [{ functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } }],
          },
        ],
      });
      const messages = openai.requests.at(-1)!.json!.messages as Record<string, unknown>[];
      const assistant = messages.find((m) => m.role === 'assistant') as {
        tool_calls: { id: string }[];
      };
      expect(messages.at(-1)).toEqual({
        role: 'tool',
        tool_call_id: assistant.tool_calls[0]!.id,
        content: 'Sunny',
      });
    });

    it('opens a conversation that starts with the model with a user turn for an Anthropic channel', async () => {
      const response = await genai.models.generateContent({
        model: 'claude-sonnet-4-5',
        contents: [
          { role: 'model', parts: [{ text: 'Hi! I am your travel agent.' }] },
          { role: 'user', parts: [{ text: 'Book Paris.' }] },
        ],
      });
      expect(response.text).toBe('Hello from Claude.');
      const messages = claude.requests.at(-1)!.json!.messages as { role: string }[];
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    });

    it('keeps Claude’s signed thinking with its text through a Gemini client’s tool loop', async () => {
      claude.scripts.push({
        kind: 'reply',
        reply: {
          thinking: [{ text: 'Weather needs a tool.', signature: 'EqQBCgIYAhIM-claude' }],
          toolCalls: [{ id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }],
          usage: { input: 40, output: 20 },
        },
      });
      const tools = [{ functionDeclarations: [WEATHER] }];
      const config = { tools, thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } };
      const parts: Part[] = [];
      for await (const chunk of await genai.models.generateContentStream({
        model: 'claude-sonnet-4-5',
        contents: 'Weather in Paris?',
        config,
      }))
        parts.push(...(chunk.candidates?.[0]?.content?.parts ?? []));
      const call = parts.find((p) => p.functionCall)!.functionCall!;
      expect(call).toMatchObject({ id: 'toolu_01A', name: 'get_weather', args: { city: 'Paris' } });
      await genai.models.generateContent({
        model: 'claude-sonnet-4-5',
        config,
        contents: [
          { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
          { role: 'model', parts },
          {
            role: 'user',
            parts: [
              { functionResponse: { id: call.id, name: call.name, response: { output: 'Sunny' } } },
            ],
          },
        ],
      });
      const messages = claude.requests.at(-1)!.json!.messages as {
        role: string;
        content: unknown;
      }[];
      expect(messages[1]).toEqual({
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'EqQBCgIYAhIM-claude' },
          { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
        ],
      });
      expect(messages[2]).toMatchObject({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_01A' }],
      });
    });

    it('counts tokens with the relay’s estimate when the channel cannot count Gemini requests', async () => {
      const counted = await genai.models.countTokens({
        model: 'deepseek-chat',
        contents: 'How many tokens is this?',
      });
      expect(counted.totalTokens).toBeGreaterThan(0);
      expect(openai.requests).toHaveLength(0);
    });
  });

  describe('OpenAI and Anthropic SDKs on a gemini channel', () => {
    it('answers an OpenAI client with Gemini’s text, reasoning and usage', async () => {
      const completion = await t.client(KEY).chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'Hello' }],
      });
      expect(completion.choices[0]!.message.content).toBe('Hello from Gemini, nice to meet you.');
      expect(completion.usage).toMatchObject({
        prompt_tokens: 40,
        completion_tokens: 16,
        prompt_tokens_details: { cached_tokens: 16 },
        completion_tokens_details: { reasoning_tokens: 6 },
      });
      const stream = await t.client(KEY).chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('Hello from Gemini, nice to meet you.');
    });

    it('keeps a Gemini 3 tool loop of an OpenAI client working, though it never sends signatures back', async () => {
      const tools = [
        {
          type: 'function' as const,
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ];
      gemini.scripts.push({
        kind: 'reply',
        reply: {
          text: 'Let me check.',
          calls: [{ name: 'get_weather', args: { city: 'Paris' } }],
          signature: { value: 'sig-from-gemini', on: 'call' },
        },
      });
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: 'user', content: 'Weather in Lyon, then Paris?' },
        // An earlier step from a client that does echo reasoning (LiteLLM's thinking_blocks).
        {
          role: 'assistant',
          content: 'Lyon first.',
          thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'sig-echoed' }],
          tool_calls: [
            {
              id: 'call_lyon',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Lyon"}' },
            },
          ],
        } as OpenAI.ChatCompletionAssistantMessageParam,
        { role: 'tool', tool_call_id: 'call_lyon', content: 'Rain' },
      ];
      const client = t.client(KEY);
      const first = await client.chat.completions.create({
        model: 'gemini-3-pro-preview',
        messages,
        tools,
      });
      const reply = first.choices[0]!.message;
      expect(reply.tool_calls).toHaveLength(1);
      messages.push(
        { role: 'assistant', content: reply.content, tool_calls: reply.tool_calls! },
        { role: 'tool', tool_call_id: reply.tool_calls![0]!.id, content: 'Sunny' },
      );
      const second = await client.chat.completions.create({
        model: 'gemini-3-pro-preview',
        messages,
        tools,
      });
      expect(second.choices[0]!.message.content).toBe('Hello from Gemini, nice to meet you.');
      const models = (gemini.requests.at(-1)!.json!.contents as Content[]).filter(
        (c) => c.role === 'model',
      );
      expect(models.map((c) => c.parts)).toEqual([
        [
          { text: 'Lyon first.' },
          {
            functionCall: { name: 'get_weather', args: { city: 'Lyon' } },
            thoughtSignature: 'sig-echoed',
          },
        ],
        [
          { text: 'Let me check.' },
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris' } },
            // Google's documented stand-in: the openai SDK dropped the real signature.
            thoughtSignature: 'skip_thought_signature_validator',
          },
        ],
      ]);
    });

    it('maps a safety stop to content_filter for an OpenAI client', async () => {
      const completion = await t.client(KEY).chat.completions.create({
        model: 'gemini-2.5-flash-safety',
        messages: [{ role: 'user', content: 'Hello' }],
      });
      expect(completion.choices[0]!.finish_reason).toBe('content_filter');
    });

    it('cleans tool schemas to what Gemini takes', async () => {
      await t.client(KEY).chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'Edit it' }],
        tools: [
          {
            type: 'function',
            function: {
              name: 'edit',
              parameters: {
                $schema: 'http://json-schema.org/draft-07/schema#',
                type: 'object',
                additionalProperties: false,
                $defs: {
                  Range: { type: 'object', properties: { from: { type: 'integer', default: 0 } } },
                },
                properties: {
                  range: { $ref: '#/$defs/Range' },
                  mode: { const: 'replace' },
                },
                required: ['range'],
              },
            },
          },
        ],
      });
      const declaration = (
        gemini.requests.at(-1)!.json!.tools as { functionDeclarations: unknown[] }[]
      )[0]!.functionDeclarations[0];
      expect(declaration).toEqual({
        name: 'edit',
        parameters: {
          type: 'object',
          properties: {
            range: { type: 'object', properties: { from: { type: 'integer' } } },
            mode: { type: 'string', enum: ['replace'] },
          },
          required: ['range'],
        },
      });
    });

    it('round-trips a Gemini 3 signature through an Anthropic client’s thinking block', async () => {
      const sdk = new Anthropic({ apiKey: KEY, baseURL: t.baseUrl, maxRetries: 0 });
      const tools = [
        {
          name: 'get_weather',
          input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
        },
      ];
      gemini.scripts.push({
        kind: 'reply',
        reply: {
          thought: 'A tool will know.',
          calls: [{ name: 'get_weather', args: { city: 'Paris' } }],
          signature: { value: 'sig-on-the-thought', on: 'thought' },
        },
      });
      const first = await sdk.messages
        .stream({
          model: 'gemini-3-pro-preview',
          max_tokens: 200,
          tools,
          messages: [{ role: 'user', content: 'Weather?' }],
        })
        .finalMessage();
      expect(first.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
      expect(first.content[0]).toMatchObject({
        thinking: 'A tool will know.',
        signature: 'sig-on-the-thought',
      });
      expect(first.stop_reason).toBe('tool_use');
      const call = first.content[1] as Anthropic.ToolUseBlock;
      const second = await sdk.messages.create({
        model: 'gemini-3-pro-preview',
        max_tokens: 200,
        tools,
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny' }],
          },
        ],
      });
      expect(second.content.at(-1)).toMatchObject({
        type: 'text',
        text: 'Hello from Gemini, nice to meet you.',
      });
      const contents = gemini.requests.at(-1)!.json!.contents as unknown[];
      expect(contents).toEqual([
        { role: 'user', parts: [{ text: 'Weather?' }] },
        {
          role: 'model',
          parts: [
            // Gemini 3 checks the first call for the signature, so it moves there.
            { text: 'A tool will know.', thought: true },
            {
              functionCall: { name: 'get_weather', args: { city: 'Paris' } },
              thoughtSignature: 'sig-on-the-thought',
            },
          ],
        },
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } }],
        },
      ]);
    });
  });
});

describe('failover across dialects', () => {
  it('goes from a failing Anthropic channel through a failing gemini channel to an OpenAI one, with one usage row', async () => {
    const gemini = await startGeminiUpstream({ apiKey: UP_KEY });
    const claude = await startAnthropicUpstream({ apiKey: 'up-anthropic-key' });
    const openai = await startOpenAiUpstream({
      apiKey: 'up-openai-key',
      reply: 'Hello from the backup.',
    });
    const relay = await startTestRelay({
      server: { maxAttemptsPerChannel: 1 },
      channels: [
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['any'],
          modelMap: { any: 'claude-x-err-529' },
          priority: 0,
        },
        {
          name: 'gemini',
          type: 'gemini',
          baseUrl: gemini.url,
          apiKey: UP_KEY,
          models: ['any'],
          modelMap: { any: 'gemini-2.5-flash-err-503' },
          priority: 1,
        },
        {
          name: 'backup',
          baseUrl: openai.url,
          apiKey: 'up-openai-key',
          models: ['any'],
          priority: 2,
        },
      ],
      keys: [{ name: 'dev', key: KEY }],
    });
    try {
      const client = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: relay.baseUrl } });
      let text = '';
      for await (const chunk of await client.models.generateContentStream({
        model: 'any',
        contents: 'Hi',
      }))
        text += chunk.text ?? '';
      expect(text).toBe('Hello from the backup.');
      expect(gemini.requests).toHaveLength(1);
      expect(claude.requests).toHaveLength(1);
      const rows = await eventually(() => {
        const r = relay.store().listUsage();
        expect(r).toHaveLength(1);
        return r;
      });
      expect(rows[0]).toMatchObject({ channel: 'backup', status: 200, detail: { attempts: 3 } });
    } finally {
      await relay.close();
      await gemini.close();
      await claude.close();
      await openai.close();
    }
  });

  it('blames a 403 PERMISSION_DENIED on the model, not the key: the channel still serves other models', async () => {
    const gemini = await startGeminiUpstream({ apiKey: UP_KEY });
    const openai = await startOpenAiUpstream({
      apiKey: 'up-openai-key',
      reply: 'Hello from the backup.',
    });
    const relay = await startTestRelay({
      server: { maxAttemptsPerChannel: 1 },
      channels: [
        {
          name: 'gemini',
          type: 'gemini',
          baseUrl: gemini.url,
          apiKey: UP_KEY,
          models: ['gemini-*'],
          priority: 0,
        },
        {
          name: 'backup',
          baseUrl: openai.url,
          apiKey: 'up-openai-key',
          models: ['gemini-2.5-pro-err-403'],
          priority: 1,
        },
      ],
      keys: [{ name: 'dev', key: KEY }],
    });
    try {
      const client = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: relay.baseUrl } });
      for (let i = 0; i < 6; i++) {
        const r = await client.models.generateContent({
          model: 'gemini-2.5-pro-err-403',
          contents: 'Hi',
        });
        expect(r.text).toBe('Hello from the backup.');
      }
      const ok = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' });
      expect(ok.text).toBe('Hello! How can I help you today?');
      const warnings = relay.logs.filter(
        (l) => l.msg === 'upstream attempt failed' && l.channel === 'gemini',
      );
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.every((l) => l.kind === 'model')).toBe(true);
    } finally {
      await relay.close();
      await gemini.close();
      await openai.close();
    }
  });
});
