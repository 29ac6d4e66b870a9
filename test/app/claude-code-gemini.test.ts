/**
 * Claude Code on a gemini channel: its whole agent request (a long system prompt, a dozen tools
 * whose schemas are full of what Gemini refuses, thinking) translated to generateContent, and
 * Gemini's answer back as a Messages stream. The Gemini fixture answers 400 to any schema key
 * Gemini does not know, so a passing run means the schemas were cleaned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAUDE_CODE_KEY, claudePrint } from '../fixtures/claude-cli.ts';
import { startGeminiUpstream } from '../fixtures/gemini-upstream.ts';
import type { GeminiUpstream } from '../fixtures/gemini-upstream.ts';
import { eventually, startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

describe('Claude Code on a gemini channel', { timeout: 60_000 }, () => {
  let gemini: GeminiUpstream;
  let t: TestRelay;

  beforeAll(async () => {
    gemini = await startGeminiUpstream({
      apiKey: 'up-gemini-key',
      reply: {
        text: 'Hi from the Gemini channel.',
        usage: { prompt: 900, output: 8, cached: 600 },
      },
    });
    t = await startTestRelay({
      channels: [
        {
          name: 'gemini',
          type: 'gemini',
          baseUrl: gemini.url,
          apiKey: 'up-gemini-key',
          models: ['gemini-*'],
          modelMap: { 'coder-on-gemini': 'gemini-2.5-flash' },
        },
      ],
      keys: [{ name: 'coder', key: CLAUDE_CODE_KEY, quota: 5 }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await gemini?.close();
  });

  it('answers a prompt, its tools declared as Gemini takes them', async () => {
    const out = await claudePrint(t.baseUrl, 'Say hi', 'coder-on-gemini');
    expect(out).toMatchObject({ is_error: false, result: 'Hi from the Gemini channel.' });
    const sent = gemini.requests.find((r) => r.action === 'streamGenerateContent')!;
    expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    const body = sent.json as {
      systemInstruction: { parts: unknown[] };
      tools: { functionDeclarations: unknown[] }[];
    };
    expect(body.systemInstruction.parts.length).toBeGreaterThan(0);
    expect(body.tools[0]!.functionDeclarations.length).toBeGreaterThan(3);
    expect(JSON.stringify(body.tools)).not.toMatch(/"(additionalProperties|\$schema|default)"/);
    await eventually(() =>
      expect(
        t
          .store()
          .listUsage()
          .find((u) => u.channel === 'gemini' && u.status === 200),
      ).toMatchObject({ endpoint: '/messages', promptTokens: 900, cacheReadTokens: 600 }),
    );
  });
});
