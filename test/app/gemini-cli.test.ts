/**
 * Gemini CLI itself (`gemini -p`, the real CLI from npm) pointed at the relay with
 * GOOGLE_GEMINI_BASE_URL and a relay key as GEMINI_API_KEY, offline (its HOME a temp folder with
 * usage statistics, telemetry and update checks off, and a proxy that goes nowhere for anything
 * but 127.0.0.1): once passed through to a gemini channel, once translated to an OpenAI one.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import type { AnthropicUpstream } from '../fixtures/anthropic-upstream.ts';
import { startGeminiUpstream } from '../fixtures/gemini-upstream.ts';
import type { GeminiUpstream } from '../fixtures/gemini-upstream.ts';
import type { ServerResponse } from 'node:http';
import { sseWrite, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream, RecordedRequest } from '../fixtures/openai-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-gemini-cli-0123456789';
const GEMINI = join(
  dirname(createRequire(import.meta.url).resolve('@google/gemini-cli/package.json')),
  'bundle',
  'gemini.js',
);

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `gemini -p <prompt> -m <model>`, with nothing but the relay to talk to. */
function geminiPrint(
  baseUrl: string,
  prompt: string,
  model: string,
  home = mkdtempSync(join(tmpdir(), 'gemini-home-')),
): Promise<CliRun> {
  mkdirSync(join(home, '.gemini'));
  writeFileSync(
    join(home, '.gemini', 'settings.json'),
    JSON.stringify({
      general: { disableAutoUpdate: true, disableUpdateNag: true },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      security: { auth: { selectedType: 'gemini-api-key' } },
    }),
  );
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [GEMINI, '-p', prompt, '-m', model],
      {
        timeout: 60_000,
        cwd: home,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          GEMINI_API_KEY: KEY,
          GOOGLE_GEMINI_BASE_URL: baseUrl,
          GEMINI_CLI_NO_RELAUNCH: 'true',
          GEMINI_CLI_TRUST_WORKSPACE: 'true',
          // Anything that is not the relay goes to a proxy that does not exist: offline.
          HTTPS_PROXY: 'http://127.0.0.1:9',
          HTTP_PROXY: 'http://127.0.0.1:9',
          NO_PROXY: '127.0.0.1,localhost',
          NO_COLOR: '1',
          CI: 'true',
        },
      },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe('Gemini CLI through the relay', { timeout: 90_000 }, () => {
  let gemini: GeminiUpstream;
  let deepseek: FakeUpstream;
  let claude: AnthropicUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    gemini = await startGeminiUpstream({
      apiKey: 'up-gemini-key',
      reply: { text: 'Hi from the Gemini channel.', usage: { prompt: 120, output: 8 } },
    });
    deepseek = await startOpenAiUpstream({
      apiKey: 'up-openai-key',
      reply: 'Hi from the OpenAI channel.',
    });
    claude = await startAnthropicUpstream({ apiKey: 'up-anthropic-key' });
    t = await startTestRelay({
      channels: [
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: claude.url,
          apiKey: 'up-anthropic-key',
          models: ['claude-*'],
        },
        {
          name: 'gemini',
          type: 'gemini',
          baseUrl: gemini.url,
          apiKey: 'up-gemini-key',
          models: ['gemini-*'],
        },
        {
          name: 'deepseek',
          baseUrl: deepseek.url,
          apiKey: 'up-openai-key',
          models: ['deepseek-chat'],
        },
      ],
      keys: [{ name: 'cli', key: KEY }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
    await deepseek?.close();
    await claude?.close();
  });

  it('answers `gemini -p` from a gemini channel, passed through', async () => {
    const run = await geminiPrint(t.baseUrl, 'Say hi', 'gemini-2.5-flash');
    expect(run.stdout, run.stderr).toContain('Hi from the Gemini channel.');
    expect(run.code).toBe(0);
    const calls = gemini.requests.filter(
      (r) => r.action.includes('GenerateContent') || r.action === 'generateContent',
    );
    expect(calls.length).toBeGreaterThan(0);
    // Gemini CLI streams from /v1beta, with the key in a header the relay swaps for its own.
    expect(gemini.requests.map((r) => `${r.method} ${r.url}`)).toContain(
      'POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(calls.every((r) => r.headers['x-goog-api-key'] === 'up-gemini-key')).toBe(true);
    const rows = await eventually(() => {
      const r = t
        .store()
        .listUsage()
        .filter((u) => u.channel === 'gemini' && u.status === 200);
      expect(r.length).toBeGreaterThan(0);
      return r;
    });
    expect(rows[0]).toMatchObject({ keyName: 'cli', promptTokens: 120 });
  });

  it('answers `gemini -p` from an OpenAI channel, translated', async () => {
    // The CLI offers its tools on every turn; this model answers in words instead.
    const words = (req: RecordedRequest, res: ServerResponse) => {
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
        id: 'chatcmpl-cli',
        object: 'chat.completion.chunk',
        created: 1741676945,
        model: 'deepseek-chat',
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      if (req.json?.stream !== true) return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sseWrite(res, chunk({ role: 'assistant', content: 'Hi from the OpenAI channel.' }));
      sseWrite(res, chunk({}, 'stop'));
      sseWrite(res, {
        ...chunk({}),
        choices: [],
        usage: { prompt_tokens: 90, completion_tokens: 6, total_tokens: 96 },
      });
      sseWrite(res, '[DONE]');
      res.end();
      return true;
    };
    for (let i = 0; i < 10; i++) deepseek.overrides.push(words);
    const run = await geminiPrint(t.baseUrl, 'Say hi', 'deepseek-chat');
    expect(run.stdout, run.stderr).toContain('Hi from the OpenAI channel.');
    expect(run.code).toBe(0);
    const sent = deepseek.requests.at(-1)!.json!;
    expect(sent.model).toBe('deepseek-chat');
    expect(JSON.stringify(sent.messages)).toContain('Say hi');
  });

  it('runs a tool loop on an Anthropic channel, never sending Claude a stand-in signature', async () => {
    const home = mkdtempSync(join(tmpdir(), 'gemini-home-'));
    const notes = join(home, 'notes.txt');
    writeFileSync(notes, 'The relay says hello.');
    claude.scripts.push(
      {
        kind: 'reply',
        reply: {
          thinking: [{ text: 'I should read the notes first.', signature: 'EqQBsig-cli' }],
          toolCalls: [{ id: 'toolu_cli_1', name: 'read_file', input: { file_path: notes } }],
          usage: { input: 50, output: 20 },
        },
      },
      { kind: 'reply', reply: { text: 'The notes say hello.', usage: { input: 80, output: 6 } } },
    );
    const run = await geminiPrint(t.baseUrl, 'What do my notes say?', 'claude-sonnet-4-5', home);
    expect(run.stdout, run.stderr).toContain('The notes say hello.');
    const second = claude.requests.filter((r) => r.path.startsWith('/v1/messages')).at(-1)!;
    const messages = second.json!.messages as {
      role: string;
      content: Record<string, unknown>[];
    }[];
    const result = messages.at(-1)!.content.find((b) => b.type === 'tool_result')!;
    expect(result).toMatchObject({ tool_use_id: 'toolu_cli_1' });
    expect(JSON.stringify(result.content)).toContain('The relay says hello.');
    // Gemini CLI drops thought parts, but keeps the signature the relay put on the call (as
    // Gemini does): Claude gets its signature back (which holds the full thinking; the text is
    // only a summary, and Claude's omitted display sends none), never Google's stand-in.
    expect(JSON.stringify(second.json)).not.toContain('skip_thought_signature_validator');
    const assistant = messages.findLast((m) => m.role === 'assistant')!;
    expect(assistant.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(assistant.content[0]).toEqual({
      type: 'thinking',
      thinking: '',
      signature: 'EqQBsig-cli',
    });
  });
});
