/**
 * Claude (and other models) on Amazon Bedrock through the relay, with no provider key: the
 * channel signs with the AWS credentials in the environment (on the host, the instance role)
 * through the official SDK, against a loopback Bedrock Runtime that verifies every SigV4
 * signature and streams AWS's binary event-stream frames. Clients are the official OpenAI and
 * Anthropic SDKs.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  chunkFrames,
  defaultReply,
  golden,
  startFakeBedrock,
} from '../fixtures/aws/bedrock-runtime.ts';
import type { FakeBedrock, StreamFrame } from '../fixtures/aws/bedrock-runtime.ts';
import { FAKE_CREDENTIALS } from '../fixtures/aws/server.ts';
import { makePng } from '../fixtures/images/make-images.ts';
import { startHttp } from '../fixtures/images/servers.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-bedrock-0123456789abcdef';
const POOR = 'sk-bedrock-poor-0123456789';
const ADMIN_KEY = 'admin-bedrock-0123456789abcdef';
const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const NOVA = 'amazon.nova-pro-v1:0';
const LLAMA = 'meta.llama3-70b-instruct-v1:0';

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
  // No instance metadata on a test machine: the chain must stop at the environment.
  AWS_EC2_METADATA_DISABLED: 'true',
};

describe('bedrock channels', () => {
  let bedrock: FakeBedrock;
  let backup: FakeUpstream;
  let t: TestRelay;
  let claude: Anthropic;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    for (const [name, value] of Object.entries(AWS_ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    bedrock = await startFakeBedrock();
    backup = await startOpenAiUpstream({
      apiKey: 'up-backup-key',
      reply: 'Hello from the backup.',
    });
    t = await startTestRelay(
      {
        // Each test scripts its own failures: none may open a circuit for the next one.
        server: { breaker: { consecutiveFailures: 100, minimumCalls: 100 } },
        // The test's image servers are on 127.0.0.1 (link-local addresses stay refused).
        images: { store: 'local', allowPrivateImageUrls: true },
        channels: [
          {
            name: 'bedrock',
            type: 'bedrock',
            region: 'us-east-1',
            endpoint: bedrock.endpoint,
            models: [SONNET, NOVA],
            modelMap: { 'claude-sonnet-4-5': SONNET, 'nova-pro': NOVA },
            priority: 0,
          },
          {
            name: 'bedrock-impatient',
            type: 'bedrock',
            region: 'us-east-1',
            endpoint: bedrock.endpoint,
            models: [LLAMA],
            modelMap: { 'llama-impatient': LLAMA },
            timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 200 },
          },
          {
            name: 'bedrock-down',
            type: 'bedrock',
            region: 'us-east-1',
            // Nothing listens on port 1: the connection is refused.
            endpoint: 'http://127.0.0.1:1',
            models: [SONNET],
            modelMap: { 'claude-down': SONNET },
          },
          {
            name: 'backup',
            baseUrl: backup.url,
            apiKey: 'up-backup-key',
            models: ['claude-sonnet-4-5', 'claude-down'],
            priority: 1,
          },
        ],
        keys: [
          { name: 'dev', key: KEY, quota: 10 },
          { name: 'poor', key: POOR, quota: 0.000001 },
        ],
        prices: {
          'claude-sonnet-4-5': { input: 3, output: 15, cacheRead: 0.3, cacheWrite5m: 3.75 },
        },
      },
      { ADMIN_KEY },
    );
    claude = new Anthropic({ apiKey: KEY, baseURL: t.baseUrl, maxRetries: 0 });
  });
  afterAll(async () => {
    await t?.close();
    await bedrock?.close();
    await backup?.close();
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });
  beforeEach(() => {
    bedrock.calls.length = 0;
    bedrock.refused.length = 0;
    bedrock.reply = defaultReply;
    backup.requests.length = 0;
  });

  /** A JSON POST to the relay; Messages calls send the key as x-api-key, like Anthropic SDKs. */
  const post = (path: string, body: unknown, key = KEY) =>
    fetch(`${t.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(path === '/v1/messages' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` }),
      },
      body: JSON.stringify(body),
    });

  const rowsFor = (model: string) =>
    t
      .store()
      .listUsage()
      .filter((r) => r.model === model);
  type Row = ReturnType<typeof rowsFor>[number];
  /** The one claude-sonnet-4-5 usage row that matches, once the relay has written it. */
  const oneRow = (match: (row: Row) => boolean) =>
    eventually(() => {
      const rows = rowsFor('claude-sonnet-4-5').filter(match);
      expect(rows).toHaveLength(1);
      return rows[0]!;
    });

  describe('OpenAI clients: Converse', () => {
    it('answers a chat from Converse, signed with the environment credentials', async () => {
      const openai = t.client(KEY);
      const before = rowsFor('claude-sonnet-4-5').length;
      const answer = await openai.chat.completions.create({
        model: 'claude-sonnet-4-5',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Name 3 UK pop songs.' },
        ],
        max_tokens: 200,
      });
      expect(answer.choices[0]!.message.content).toContain('Wannabe');
      expect(answer.choices[0]!.finish_reason).toBe('stop');
      expect(answer.usage).toMatchObject({ prompt_tokens: 125, completion_tokens: 60 });
      expect(bedrock.refused).toEqual([]);
      const call = bedrock.calls.at(-1)!;
      expect(call.op).toBe('converse');
      expect(call.modelId).toBe(SONNET);
      expect(call.json).toMatchObject({
        system: [{ text: 'Be brief.' }],
        messages: [{ role: 'user', content: [{ text: 'Name 3 UK pop songs.' }] }],
        inferenceConfig: { maxTokens: 200 },
      });
      expect(call.json.modelId).toBeUndefined();
      const row = await oneRow((r) => r.promptTokens === 125);
      expect(rowsFor('claude-sonnet-4-5')).toHaveLength(before + 1);
      expect(row).toMatchObject({ channel: 'bedrock', status: 200, completionTokens: 60 });
    });

    it('sends the documented Converse body for a tool round trip (golden), and bills cache reads', async () => {
      bedrock.reply = () => ({ json: golden('converse-tools.response.json') });
      const request = golden('openai-tools.request.json') as Record<string, unknown>;
      const res = await post('/v1/chat/completions', request);
      expect(res.status).toBe(200);
      const answer = (await res.json()) as {
        choices: { message: { tool_calls?: { id: string; function: { arguments: string } }[] } }[];
        usage: Record<string, unknown>;
      };
      expect(bedrock.calls.at(-1)!.json).toEqual(golden('openai-tools.converse.json'));
      const call = answer.choices[0]!.message.tool_calls![0]!;
      expect(call.id).toBe('tooluse_kZJMlvQmRJ6eAyJE5GIl7Q');
      expect(JSON.parse(call.function.arguments)).toEqual({ sign: 'WZPZ' });
      expect(answer.usage).toMatchObject({
        prompt_tokens: 12 + 1200 + 216,
        completion_tokens: 57,
        prompt_tokens_details: { cached_tokens: 1200 },
      });
      const row = await oneRow((r) => r.completionTokens === 57);
      // 12 × 3 + 1200 × 0.3 + 216 × 3.75 + 57 × 15, in micro-dollars.
      expect(row).toMatchObject({
        channel: 'bedrock',
        cacheReadTokens: 1200,
        cacheWrite5mTokens: 216,
        costMicros: 36 + 360 + 810 + 855,
      });
    });

    it('logs a tool_choice none that Converse cannot keep (the history’s tools stay declared)', async () => {
      await t.client(KEY).chat.completions.create({
        model: 'nova-pro',
        tool_choice: 'none',
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }],
        messages: [
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: 'Sunny' },
        ],
      });
      expect(
        t.logs.find((l) => l.msg === 'translation left features out' && l.channel === 'bedrock'),
      ).toMatchObject({ dropped: [expect.stringContaining('tool_choice none')] });
    });

    it('downloads a URL image to bytes for Converse', async () => {
      const png = makePng(3, 3);
      const images = await startHttp((_req, res) => {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      });
      try {
        await t.client(KEY).chat.completions.create({
          model: 'nova-pro',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is this?' },
                { type: 'image_url', image_url: { url: `${images.url}/red.png?sig=secret` } },
              ],
            },
          ],
        });
      } finally {
        await images.close();
      }
      const content = (bedrock.calls.at(-1)!.json.messages as { content: unknown[] }[])[0]!.content;
      expect(content[1]).toEqual({
        image: { format: 'png', source: { bytes: png.toString('base64') } },
      });
    });

    it("refuses an image it cannot fetch as the client's 400, without quoting the URL", async () => {
      const res = await post('/v1/chat/completions', {
        model: 'nova-pro',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: 'http://127.0.0.1:1/x.png?sig=secret' } },
            ],
          },
        ],
      });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).toContain('could not be fetched');
      expect(text).not.toContain('secret');
      expect(bedrock.calls).toHaveLength(0);
      // The instance metadata service is never fetched on a client's behalf.
      const imds = await t
        .client(KEY)
        .chat.completions.create({
          model: 'nova-pro',
          messages: [
            {
              role: 'user',
              content: [
                {
                  type: 'image_url',
                  image_url: { url: 'http://169.254.169.254/latest/meta-data/' },
                },
              ],
            },
          ],
        })
        .catch((e: unknown) => e);
      expect(imds).toMatchObject({ status: 400 });
      expect(bedrock.calls).toHaveLength(0);
    });

    it('refuses an image URL that redirects to the metadata service, checking every hop', async () => {
      const redirect = await startHttp((_req, res) => {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
        res.end();
      });
      try {
        const res = await post('/v1/chat/completions', {
          model: 'nova-pro',
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: `${redirect.url}/cat.png` } }],
            },
          ],
        });
        expect(res.status).toBe(400);
        expect(await res.text()).toContain('link-local');
      } finally {
        await redirect.close();
      }
      expect(bedrock.calls).toHaveLength(0);
    });

    it('streams ConverseStream as chat chunks: text, a tool call, usage with cache reads', async () => {
      const openai = t.client(KEY);
      const stream = await openai.chat.completions.create({
        model: 'nova-pro',
        messages: [{ role: 'user', content: 'Top song on WZPZ?' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let args = '';
      let name = '';
      let usage: unknown;
      let finish: string | null = null;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        text += choice?.delta.content ?? '';
        const call = choice?.delta.tool_calls?.[0];
        if (call?.function?.name) name = call.function.name;
        args += call?.function?.arguments ?? '';
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('Here are 3 pop songs.');
      expect(name).toBe('top_song');
      expect(JSON.parse(args)).toEqual({ sign: 'WZPZ' });
      expect(finish).toBe('tool_calls');
      expect(usage).toMatchObject({ prompt_tokens: 130, completion_tokens: 20 });
      expect(bedrock.calls.at(-1)).toMatchObject({ op: 'converse-stream', modelId: NOVA });
    });
  });

  describe('Messages clients on Claude: InvokeModel with the Messages body', () => {
    it('passes the body through with bedrock-2023-05-31 and no model, beta flags filtered', async () => {
      const msg = await claude.messages.create(
        {
          model: 'claude-sonnet-4-5',
          max_tokens: 256,
          messages: [{ role: 'user', content: 'Hello' }],
        },
        {
          headers: {
            'anthropic-beta':
              'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
          },
        },
      );
      expect(msg.content).toEqual([
        expect.objectContaining({ type: 'text', text: 'Hello! How can I help you today?' }),
      ]);
      expect(msg.usage).toMatchObject({ input_tokens: 12, cache_read_input_tokens: 100 });
      const call = bedrock.calls.at(-1)!;
      expect(call.op).toBe('invoke');
      expect(call.modelId).toBe(SONNET);
      expect(call.json).toEqual({
        anthropic_version: 'bedrock-2023-05-31',
        anthropic_beta: ['interleaved-thinking-2025-05-14'],
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hello' }],
      });
    });

    it('streams InvokeModelWithResponseStream as the Messages events Bedrock sent', async () => {
      const stream = claude.messages.stream({
        model: 'claude-sonnet-4-5',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'Hello' }],
      });
      const final = await stream.finalMessage();
      expect(final.content).toEqual([
        expect.objectContaining({ type: 'text', text: 'Hello! How can I help you today?' }),
      ]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage).toMatchObject({ output_tokens: 11, cache_read_input_tokens: 100 });
      expect(bedrock.calls.at(-1)).toMatchObject({ op: 'invoke-with-response-stream' });
      expect(bedrock.calls.at(-1)!.json.stream).toBeUndefined();
      // One usage row, with the cache read billed apart: 12 + 100 input tokens, 11 output.
      const row = await oneRow((r) => r.promptTokens === 112);
      expect(row).toMatchObject({
        endpoint: '/messages',
        channel: 'bedrock',
        completionTokens: 11,
        cacheReadTokens: 100,
      });
    });

    it('sends Messages clients asking for a model other than Claude to Converse', async () => {
      const msg = await claude.messages.create({
        model: 'nova-pro',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Hello' }],
      });
      expect(msg.content[0]).toMatchObject({ type: 'text' });
      expect(bedrock.calls.at(-1)).toMatchObject({ op: 'converse', modelId: NOVA });
    });
  });

  it("the console's channel test reaches Bedrock through the SDK too", async () => {
    const res = await post('/admin/api/channels/bedrock/test', { model: 'nova-pro' }, ADMIN_KEY);
    expect(await res.json()).toMatchObject({ ok: true, channel: 'bedrock', status: 200 });
    expect(bedrock.calls.at(-1)).toMatchObject({ op: 'converse', modelId: NOVA });
  });

  describe('errors', () => {
    it.each([
      [429, 'ThrottlingException', 'Too many requests, please wait before trying again.', 429],
      [429, 'ModelNotReadyException', 'The model is not ready to serve inference requests.', 503],
      [503, 'ServiceUnavailableException', 'Service is unavailable. Try again later.', 503],
    ])(
      '%i %s (the relay reads a %i) fails over to the next channel',
      async (status, error, message, read) => {
        bedrock.reply = () => ({ status, error, message });
        const answer = await t.client(KEY).chat.completions.create({
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'Hi' }],
        });
        expect(answer.choices[0]!.message.content).toBe('Hello from the backup.');
        expect(bedrock.calls.length).toBeGreaterThanOrEqual(1);
        expect(backup.requests).toHaveLength(1);
        const failed = t.logs.filter(
          (l) => l.msg === 'upstream attempt failed' && l.channel === 'bedrock',
        );
        expect(failed.at(-1)).toMatchObject({ kind: 'http-status', upstreamStatus: read });
      },
    );

    it('an unreachable Bedrock endpoint is a connect failure that fails over', async () => {
      const answer = await t.client(KEY).chat.completions.create({
        model: 'claude-down',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      expect(answer.choices[0]!.message.content).toBe('Hello from the backup.');
      const failed = t.logs.filter(
        (l) => l.msg === 'upstream attempt failed' && l.channel === 'bedrock-down',
      );
      expect(failed.at(-1)).toMatchObject({ kind: 'connect' });
    });

    it('a key without the quota for the request never reaches Bedrock', async () => {
      const err = await t
        .client(POOR)
        .chat.completions.create({
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'Hi' }],
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 429, code: 'insufficient_quota' });
      expect(bedrock.calls).toHaveLength(0);
    });

    it("ValidationException is the client's 400, in its own dialect", async () => {
      bedrock.reply = () => ({
        status: 400,
        error: 'ValidationException',
        message: 'messages.0: max_tokens is too large',
      });
      const err = await claude.messages
        .create({
          model: 'claude-sonnet-4-5',
          max_tokens: 1,
          messages: [{ role: 'user', content: 'Hi' }],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', message: 'messages.0: max_tokens is too large' },
      });
      expect(backup.requests).toHaveLength(0);
      // An OpenAI client hears it in OpenAI's shape.
      const openaiErr = await t
        .client(KEY)
        .chat.completions.create({
          model: 'claude-sonnet-4-5',
          messages: [{ role: 'user', content: 'Hi' }],
        })
        .catch((e: unknown) => e);
      expect(openaiErr).toMatchObject({
        status: 400,
        error: { message: 'messages.0: max_tokens is too large', type: 'invalid_request_error' },
      });
    });

    it('AccessDeniedException is a channel fault naming the model access, never a 404', async () => {
      bedrock.reply = () => ({
        status: 403,
        error: 'AccessDeniedException',
        message: `User: arn:aws:sts::123456789012:assumed-role/relay/i-0abc is not authorized to perform: bedrock:InvokeModel on resource: ${SONNET}`,
      });
      const res = await post('/v1/chat/completions', {
        model: 'nova-pro',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const body = await res.text();
      expect(res.status).not.toBe(404);
      expect(res.status).toBe(502);
      expect(body).not.toContain('model_not_found');
      expect(body).not.toContain('123456789012');
      const logged = t.rawLog.filter((l) => l.includes('AccessDeniedException')).join('\n');
      expect(logged).toContain(`model ${NOVA}`);
      expect(logged).toContain('Model access');
    });

    it('an exception mid-ConverseStream ends the chat stream with an error and no [DONE]', async () => {
      const frames = golden('converse-stream.events.json') as StreamFrame[];
      bedrock.reply = () => ({
        frames: [
          ...frames.slice(0, 3),
          { exception: 'modelStreamErrorException', message: 'The model stopped.' },
        ],
      });
      const res = await post('/v1/chat/completions', {
        model: 'nova-pro',
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const text = await res.text();
      expect(text).toContain('"content":"Here are 3 "');
      expect(text).toMatch(
        /data: \{"error":\{[^\n]*The model stopped\.[^\n]*"code":"upstream_error"/,
      );
      expect(text).not.toContain('[DONE]');
    });

    it('a stream that goes quiet past the idle timeout is a timeout, not a clean end', async () => {
      const frames = golden('converse-stream.events.json') as StreamFrame[];
      bedrock.reply = () => ({ frames, gapMs: 400 });
      const res = await post('/v1/chat/completions', {
        model: 'llama-impatient',
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ error: { code: 'upstream_timeout' } });
      const failed = t.logs.filter(
        (l) => l.msg === 'upstream attempt failed' && l.channel === 'bedrock-impatient',
      );
      expect(failed.at(-1)).toMatchObject({ kind: 'timeout-idle' });
    });

    it('an exception mid-stream ends the Messages stream with event: error', async () => {
      bedrock.reply = () => ({
        frames: [
          ...chunkFrames((golden('invoke-stream.events.json') as unknown[]).slice(0, 3)),
          { exception: 'modelStreamErrorException', message: 'The model stopped.' },
        ],
      });
      const res = await post('/v1/messages', {
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const text = await res.text();
      expect(text).toContain('"text":"Hello! How can"');
      expect(text).toContain('event: error');
      // The model's own failure, not a dropped connection.
      expect(text).toContain('The model stopped.');
      expect(text).not.toContain('message_stop');
    });

    it.each([
      ['throttlingException', 'rate_limit_error'],
      ['serviceUnavailableException', 'overloaded_error'],
      ['modelStreamErrorException', 'api_error'],
    ])(
      'a mid-stream %s reaches a Messages client as its error type (%s)',
      async (exception, type) => {
        bedrock.reply = () => ({
          frames: [
            ...chunkFrames((golden('invoke-stream.events.json') as unknown[]).slice(0, 3)),
            { exception, message: 'Try again later.' },
          ],
        });
        const stream = new Anthropic({
          apiKey: KEY,
          baseURL: t.baseUrl,
          maxRetries: 0,
        }).messages.stream({
          model: 'claude-sonnet-4-5',
          max_tokens: 64,
          messages: [{ role: 'user', content: 'Hi' }],
        });
        const err = await stream.finalMessage().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.APIError);
        expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
          type: 'error',
          error: { type, message: expect.stringContaining('Try again later.') },
        });
      },
    );
  });
});
