/**
 * Google's own Gemini API examples through the translation, both ways: what a Gemini upstream
 * streams comes out of the relay's Gemini encoder as the same answer (@google/genai is the
 * judge) and out of its Anthropic encoder as the same message (the Anthropic SDK is the judge);
 * Gemini requests and answers survive the trip through the neutral chat; the OpenAI docs'
 * function-calling request becomes the golden Gemini request.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMessagesRequest, toChatRequest } from '../../app/src/dialects/anthropic/request.ts';
import { AnthropicStreamEncoder } from '../../app/src/dialects/anthropic/stream.ts';
import { parseGenerateContent, readChatRequest } from '../../app/src/dialects/gemini/request.ts';
import { renderGenerateContent } from '../../app/src/dialects/gemini/response.ts';
import { GeminiStreamEncoder } from '../../app/src/dialects/gemini/stream.ts';
import { openAiChatToNeutral } from '../../app/src/dialects/openai/chat-request.ts';
import { toMessagesRequest } from '../../app/src/providers/anthropic/request.ts';
import { toGenerateContentRequest } from '../../app/src/providers/gemini/request.ts';
import { neutralToOpenAiChat } from '../../app/src/providers/openai-compatible/chat-request.ts';
import { readGenerateContent } from '../../app/src/providers/gemini/response.ts';
import { GeminiStreamDecoder } from '../../app/src/providers/gemini/stream.ts';
import type { StreamEncoder } from '../../app/src/core/job.ts';
import { sseEvents } from '../../app/src/streaming/sse.ts';
import { checkMessagesStream, sdkFinalMessage } from '../fixtures/anthropic-sse.ts';
import { sdkSummary } from '../fixtures/gemini-sse.ts';

const golden = (path: string) =>
  readFileSync(new URL(`../fixtures/golden/${path}`, import.meta.url), 'utf8');
const json = (path: string) => JSON.parse(golden(path)) as Record<string, unknown>;

async function* once(s: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(s);
}

/** Gemini upstream → neutral events → a client's encoder, as the relay does across dialects. */
async function reencode(sse: string, encoder: StreamEncoder): Promise<string> {
  const decoder = new GeminiStreamDecoder(true);
  let out = '';
  for await (const message of sseEvents(once(sse))) {
    const decoded = decoder.decode(message);
    expect(decoded.failure).toBeUndefined();
    for (const event of decoded.events) out += encoder.encode(event);
  }
  return out + encoder.end();
}

describe('golden Gemini streams through decoder and encoder', () => {
  it.each(['stream-text.sse', 'stream-thinking-call.sse'])(
    '%s: @google/genai reads the same answer from the relay’s frames as from the upstream’s',
    async (name) => {
      const original = await sdkSummary(golden(`gemini/${name}`));
      const relayed = await sdkSummary(
        await reencode(golden(`gemini/${name}`), new GeminiStreamEncoder('client-model', 7)),
      );
      // The per-modality breakdown of the prompt is Gemini's alone: the totals are what carry over.
      const { promptTokensDetails: _details, ...usage } = original.usage ?? {};
      expect(relayed).toEqual({ ...original, usage });
    },
  );

  it('stream-thinking-call.sse: an Anthropic client gets the thought, its signature and the call', async () => {
    const frames = await reencode(
      golden('gemini/stream-thinking-call.sse'),
      new AnthropicStreamEncoder('claude-x', 7),
    );
    checkMessagesStream(frames);
    const message = await sdkFinalMessage(frames);
    expect(message.content).toEqual([
      {
        type: 'thinking',
        thinking: '**Checking the flight**\n\nI need the status of AA100 first.',
        signature: '<Signature A>',
      },
      {
        type: 'tool_use',
        id: expect.stringMatching(/^call_/),
        name: 'check_flight',
        input: { flight: 'AA100' },
      },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    // Thoughts are output: 16 written + 52 thought.
    expect(message.usage).toMatchObject({ input_tokens: 72, output_tokens: 68 });
  });

  it('stream-text.sse: cached and thinking tokens reach the usage', async () => {
    const decoder = new GeminiStreamDecoder(false);
    let usage;
    for await (const message of sseEvents(once(golden('gemini/stream-text.sse'))))
      usage = decoder.decode(message).usage ?? usage;
    expect(usage).toEqual({
      promptTokens: 10,
      completionTokens: 1090,
      cacheReadTokens: 4,
      reasoningTokens: 1069,
    });
  });
});

describe('golden Gemini JSON through the neutral chat', () => {
  it.each(['generate-content.response.json', 'function-calling.response.json'])(
    '%s renders back as itself',
    (name) => {
      const original = json(`gemini/${name}`);
      const { response } = readGenerateContent(original, true);
      const rendered = renderGenerateContent(response!, String(original.modelVersion));
      const candidate = (original.candidates as Record<string, unknown>[])[0]!;
      const usage = original.usageMetadata as Record<string, number>;
      expect(rendered).toMatchObject({
        candidates: [
          {
            content: {
              role: 'model',
              parts: (candidate.content as { parts: Record<string, unknown>[] }).parts.map((p) =>
                p.functionCall
                  ? {
                      ...p,
                      functionCall: { ...(p.functionCall as object), id: expect.any(String) },
                    }
                  : p,
              ),
            },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: {
          promptTokenCount: usage.promptTokenCount,
          candidatesTokenCount: usage.candidatesTokenCount,
          thoughtsTokenCount: usage.thoughtsTokenCount,
        },
        modelVersion: original.modelVersion,
        responseId: original.responseId,
      });
    },
  );

  it.each(['generate-content.request.json', 'function-calling.request.json'])(
    '%s survives the trip through the neutral chat',
    (name) => {
      const original = json(`gemini/${name}`);
      const { chat } = readChatRequest(parseGenerateContent(original), 'gemini-2.5-flash', false);
      const rebuilt = toGenerateContentRequest(chat);
      // Google's example writes snake_case; the relay writes camelCase (Gemini reads both).
      const { system_instruction: system, ...rest } = original;
      expect(rebuilt).toEqual({ ...rest, ...(system ? { systemInstruction: system } : {}) });
    },
  );

  it('Google’s function-calling request becomes the golden OpenAI and Anthropic requests', () => {
    const { chat } = readChatRequest(
      parseGenerateContent(json('gemini/function-calling.request.json')),
      'gemini-2.5-flash',
      false,
    );
    expect(neutralToOpenAiChat({ ...chat, model: 'deepseek-chat' })).toEqual(
      json('gemini/function-calling.request.openai.json'),
    );
    expect(toMessagesRequest({ ...chat, model: 'claude-sonnet-4-6' }, 4096)).toEqual(
      json('gemini/function-calling.request.anthropic.json'),
    );
  });

  it('the Anthropic docs’ tool request becomes the golden Gemini request', () => {
    const chat = toChatRequest(parseMessagesRequest(json('anthropic/tools.request.json')));
    expect(toGenerateContentRequest({ ...chat, model: 'gemini-2.5-flash' })).toEqual(
      json('gemini/anthropic-tools.request.gemini.json'),
    );
  });

  it('the OpenAI docs’ function-calling request becomes the golden Gemini request', () => {
    const chat = openAiChatToNeutral(json('anthropic/openai-tools.request.json'));
    expect(toGenerateContentRequest({ ...chat, model: 'gemini-2.5-flash' })).toEqual(
      json('gemini/openai-tools.request.gemini.json'),
    );
  });
});
