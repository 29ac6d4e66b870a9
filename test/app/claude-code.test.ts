/**
 * Claude Code itself (`claude -p`, the real CLI from npm) pointed at the relay, offline: once on
 * a channel that speaks Messages, once on a channel that speaks OpenAI (how it runs on
 * DeepSeek, Kimi, GLM or Qwen). Its first turn carries the whole agent request: a long system
 * prompt with cache marks, a dozen tools, adaptive thinking and beta headers.
 */
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import type { AnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import { sseWrite, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { CLAUDE_CODE_KEY, claudePrint } from '../fixtures/claude-cli.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = CLAUDE_CODE_KEY;
describe('Claude Code through the relay', { timeout: 60_000 }, () => {
  let claude: AnthropicUpstream;
  let deepseek: FakeUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    claude = await startAnthropicUpstream({
      apiKey: 'up-anthropic-key',
      reply: {
        text: 'Hi from the Anthropic channel.',
        usage: { input: 900, output: 8, cacheRead: 4000 },
      },
    });
    deepseek = await startOpenAiUpstream({
      apiKey: 'up-deepseek-key',
      reply: 'Hi from the DeepSeek channel.',
    });
    t = await startTestRelay({
      channels: [
        {
          name: 'anthropic',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['claude-*'],
        },
        // Claude Code asks for whatever --model names; this channel maps that name onto DeepSeek.
        {
          name: 'deepseek',
          baseUrl: deepseek.url,
          apiKey: 'up-deepseek-key',
          models: ['deepseek-chat'],
          modelMap: { 'coder-on-deepseek': 'deepseek-chat' },
        },
      ],
      keys: [{ name: 'coder', key: KEY, quota: 5 }],
      prices: { 'coder-on-deepseek': { input: 0.27, output: 1.1 } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await claude?.close();
    await deepseek?.close();
  });

  it('answers a prompt from a channel that speaks Messages, beta headers passed along', async () => {
    const out = await claudePrint(t.baseUrl, 'Say hi');
    expect(out).toMatchObject({ is_error: false, result: 'Hi from the Anthropic channel.' });
    const sent = claude.requests.find((r) => r.path.startsWith('/v1/messages'))!;
    expect(sent.headers['x-api-key']).toBe('up-anthropic-key');
    expect(sent.headers['anthropic-beta']).toContain('claude-code-');
    expect(sent.json).toMatchObject({ stream: true, tools: expect.any(Array) });
    const row = await eventually(() => {
      const r = t
        .store()
        .listUsage()
        .find((u) => u.channel === 'anthropic');
      expect(r).toBeDefined();
      return r!;
    });
    expect(row).toMatchObject({ endpoint: '/messages', status: 200, cacheReadTokens: 4000 });
  });

  it('answers a prompt from a channel that speaks OpenAI, its tools translated', async () => {
    // A model that answers in text although it was offered tools (the fixture's default with
    // tools is to call one, which Claude Code would try to run).
    deepseek.overrides.push((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null = null) => ({
        id: 'chatcmpl-cc',
        object: 'chat.completion.chunk',
        created: 1,
        model: req.json?.model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      sseWrite(res, chunk({ role: 'assistant', content: '' }));
      sseWrite(res, chunk({ content: 'Hi from the DeepSeek channel.' }));
      sseWrite(res, chunk({}, 'stop'));
      sseWrite(res, {
        id: 'chatcmpl-cc',
        choices: [],
        usage: { prompt_tokens: 11, completion_tokens: 7 },
      });
      sseWrite(res, '[DONE]');
      res.end();
      return true;
    });
    const out = await claudePrint(t.baseUrl, 'Say hi', 'coder-on-deepseek');
    expect(out).toMatchObject({ is_error: false, result: 'Hi from the DeepSeek channel.' });
    expect(out.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const sent = deepseek.requests.find((r) => r.path === '/v1/chat/completions')!;
    const body = sent.json as { model: string; messages: { role: string }[]; tools: unknown[] };
    expect(body.model).toBe('deepseek-chat');
    expect(body.messages[0]!.role).toBe('system');
    expect(body.tools.length).toBeGreaterThan(3);
    expect(JSON.stringify(body)).not.toContain('cache_control');
    await eventually(() =>
      expect(
        t
          .store()
          .listUsage()
          .find((u) => u.channel === 'deepseek'),
      ).toMatchObject({
        endpoint: '/messages',
        status: 200,
        source: 'upstream',
      }),
    );
  });

  it('runs a tool loop on a channel that speaks OpenAI: tool call, tool result, answer', async () => {
    // The model asks Claude Code to run a command, then answers with what the command printed.
    const answer = (req: { json?: Record<string, unknown> }, res: ServerResponse) => {
      const messages = (req.json?.messages ?? []) as { role: string; content?: unknown }[];
      const result = messages.find((m) => m.role === 'tool');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null = null) => ({
        id: 'chatcmpl-loop',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'deepseek-chat',
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      if (!result) {
        sseWrite(
          res,
          chunk({
            tool_calls: [
              {
                index: 0,
                id: 'call_bash',
                type: 'function',
                function: { name: 'Bash', arguments: '' },
              },
            ],
          }),
        );
        sseWrite(
          res,
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":"echo relay-' } }] }),
        );
        sseWrite(
          res,
          chunk({
            tool_calls: [{ index: 0, function: { arguments: 'ok","description":"say it"}' } }],
          }),
        );
        sseWrite(res, chunk({}, 'tool_calls'));
      } else {
        sseWrite(res, chunk({ content: `The command printed: ${String(result.content).trim()}` }));
        sseWrite(res, chunk({}, 'stop'));
      }
      sseWrite(res, {
        id: 'chatcmpl-loop',
        choices: [],
        usage: { prompt_tokens: 20, completion_tokens: 5 },
      });
      sseWrite(res, '[DONE]');
      res.end();
      return true;
    };
    deepseek.requests.length = 0;
    deepseek.overrides.push(answer, answer);
    const out = await claudePrint(t.baseUrl, 'Run echo relay-ok', 'coder-on-deepseek', [
      '--allowedTools',
      'Bash(echo:*)',
    ]);
    expect(out).toMatchObject({ is_error: false, result: 'The command printed: relay-ok' });
    const second = deepseek.requests.filter((r) => r.path === '/v1/chat/completions')[1]!;
    const messages = (second.json as { messages: Record<string, unknown>[] }).messages;
    expect(messages.find((m) => m.role === 'assistant')).toMatchObject({
      tool_calls: [{ id: 'call_bash', function: { name: 'Bash' } }],
    });
    expect(messages.find((m) => m.role === 'tool')).toMatchObject({ tool_call_id: 'call_bash' });
  });
});
