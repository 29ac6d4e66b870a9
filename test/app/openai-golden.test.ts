/**
 * The other direction of the docs' examples: an Anthropic client (Claude Code) on a channel
 * that speaks OpenAI (DeepSeek, Kimi, GLM, Qwen). The Messages request becomes the golden chat
 * request; the OpenAI docs' streamed function calls come out as a Messages stream that the
 * official Anthropic SDK accumulates into the same answer; an Anthropic answer becomes the
 * golden chat completion for an OpenAI client.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMessagesRequest, toChatRequest } from '../../app/src/dialects/anthropic/request.ts';
import { AnthropicStreamEncoder } from '../../app/src/dialects/anthropic/stream.ts';
import { renderChatCompletion } from '../../app/src/dialects/openai/chat-response.ts';
import { toolNameMap } from '../../app/src/providers/anthropic/names.ts';
import { fromMessage } from '../../app/src/providers/anthropic/response.ts';
import { neutralToOpenAiChat } from '../../app/src/providers/openai-compatible/chat-request.ts';
import { OpenAiChatDecoder } from '../../app/src/providers/openai-compatible/stream.ts';
import { sseEvents } from '../../app/src/streaming/sse.ts';
import { checkMessagesStream, sdkFinalMessage } from '../fixtures/anthropic-sse.ts';

const golden = (path: string) =>
  readFileSync(new URL(`../fixtures/golden/${path}`, import.meta.url), 'utf8');
const json = (path: string) => JSON.parse(golden(path)) as Record<string, unknown>;

async function* once(s: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(s);
}

describe('an Anthropic client on an OpenAI channel', () => {
  it('the docs’ tool request becomes the golden chat completions body', () => {
    const chat = toChatRequest(parseMessagesRequest(json('anthropic/tools.request.json')));
    expect(neutralToOpenAiChat({ ...chat, model: 'deepseek-chat' })).toEqual(
      json('anthropic/tools.request.openai.json'),
    );
  });

  it('the docs’ streamed parallel function calls come out as a Messages stream the SDK accumulates', async () => {
    const decoder = new OpenAiChatDecoder({ translate: true, clientWantsUsage: true });
    const encoder = new AnthropicStreamEncoder('claude-opus-4-6', 50);
    let frames = '';
    for await (const m of sseEvents(once(golden('openai/chat-stream-tools.sse')))) {
      for (const e of decoder.decode(m).events) frames += encoder.encode(e);
    }
    frames += encoder.end();
    checkMessagesStream(frames);
    const message = await sdkFinalMessage(frames);
    expect(message.model).toBe('claude-opus-4-6');
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content.map((b) => b.type)).toEqual([
      'thinking',
      'text',
      'tool_use',
      'tool_use',
    ]);
    expect(message.content.slice(2)).toEqual([
      expect.objectContaining({
        id: 'call_abc',
        name: 'get_current_weather',
        input: { location: 'Paris' },
      }),
      expect.objectContaining({
        id: 'call_def',
        name: 'get_current_weather',
        input: { location: 'Rome' },
      }),
    ]);
    expect(message.usage).toMatchObject({
      input_tokens: 18,
      cache_read_input_tokens: 64,
      output_tokens: 41,
    });
  });
});

describe('an OpenAI client on an Anthropic channel', () => {
  it('the docs’ tool answer becomes the golden chat completion', () => {
    const response = fromMessage(json('anthropic/tools.response.json'), toolNameMap(undefined))!;
    const { created: _created, ...rendered } = renderChatCompletion(
      response,
      'gpt-4.1',
      0,
    ) as Record<string, unknown>;
    const expected = json('anthropic/tools.response.openai.json') as Record<string, unknown>;
    expect(rendered).toMatchObject(expected);
  });
});
