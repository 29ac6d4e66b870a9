/**
 * The docs' own examples through the translation, both ways: what an Anthropic upstream sends
 * comes out of the relay's Anthropic encoder as the same message (the official SDK is the
 * judge), Anthropic requests survive the trip through the neutral chat, and the OpenAI docs'
 * function-calling pair maps to the golden Anthropic request and answer.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatRequest, ChatResponse } from '../../app/src/core/chat.ts';
import { parseMessagesRequest, toChatRequest } from '../../app/src/dialects/anthropic/request.ts';
import { renderMessage } from '../../app/src/dialects/anthropic/response.ts';
import { AnthropicStreamEncoder } from '../../app/src/dialects/anthropic/stream.ts';
import { toolNameMap } from '../../app/src/providers/anthropic/names.ts';
import { toMessagesRequest } from '../../app/src/providers/anthropic/request.ts';
import { fromMessage } from '../../app/src/providers/anthropic/response.ts';
import { AnthropicStreamDecoder } from '../../app/src/providers/anthropic/stream.ts';
import { sseEvents } from '../../app/src/streaming/sse.ts';
import { checkMessagesStream, sdkFinalMessage } from '../fixtures/anthropic-sse.ts';

const text = (name: string) =>
  readFileSync(new URL(`../fixtures/golden/anthropic/${name}`, import.meta.url), 'utf8');
const json = (name: string) => JSON.parse(text(name)) as Record<string, unknown>;

async function* once(s: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(s);
}

/** Anthropic upstream → neutral events → Anthropic client, as the relay does across dialects. */
async function reencode(sse: string): Promise<string> {
  const decoder = new AnthropicStreamDecoder(toolNameMap(undefined), true);
  const encoder = new AnthropicStreamEncoder('client-model', 99);
  let out = '';
  for await (const message of sseEvents(once(sse))) {
    const decoded = decoder.decode(message);
    for (const event of decoded.events) out += encoder.encode(event);
  }
  return out + encoder.end();
}

describe('golden streams through decoder and encoder', () => {
  it.each(['stream-text.sse', 'stream-tool-use.sse'])(
    '%s: the SDK accumulates the same message from the relay’s frames as from the upstream’s',
    async (name) => {
      const original = await sdkFinalMessage(text(name));
      const frames = await reencode(text(name));
      checkMessagesStream(frames);
      const relayed = await sdkFinalMessage(frames);
      expect(relayed.content).toEqual(original.content);
      expect(relayed.stop_reason).toBe(original.stop_reason);
      expect(relayed.usage).toMatchObject({
        input_tokens: original.usage.input_tokens,
        output_tokens: original.usage.output_tokens,
      });
      expect(relayed.model).toBe('client-model');
    },
  );

  it('stream-thinking.sse: thinking first, its signature kept, then the text', async () => {
    const frames = await reencode(text('stream-thinking.sse'));
    checkMessagesStream(frames);
    const relayed = await sdkFinalMessage(frames);
    expect(relayed.content).toEqual([
      {
        type: 'thinking',
        thinking:
          'I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\n\nSo GCD(1071, 462) = 21',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b...',
      },
      { type: 'text', text: 'The greatest common divisor of 1071 and 462 is **21**.' },
    ]);
    // The upstream reported no usage: the client still gets real counts, the relay's estimate.
    expect(relayed.usage.input_tokens).toBe(99);
    expect(relayed.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe('golden JSON through the neutral answer', () => {
  it.each(['messages.response.json', 'tools.response.json'])(
    '%s renders back as itself',
    (name) => {
      const original = json(name);
      const response = fromMessage(original, toolNameMap(undefined))!;
      const rendered = renderMessage(response, String(original.model));
      expect(rendered).toMatchObject({
        id: original.id,
        model: original.model,
        content: original.content,
        stop_reason: original.stop_reason,
        stop_sequence: null,
        usage: original.usage,
      });
    },
  );

  it.each(['messages.request.json', 'tools.request.json'])(
    '%s survives the trip through the neutral chat',
    (name) => {
      const original = json(name);
      const rebuilt = toMessagesRequest(toChatRequest(parseMessagesRequest(original)), 1);
      const blocks = (original.messages as { role: string; content: string }[]).map((m) => ({
        role: m.role,
        content: [{ type: 'text', text: m.content }],
      }));
      expect(rebuilt).toEqual({ ...original, messages: blocks });
    },
  );
});

describe('thinking across the neutral chat', () => {
  it('keeps signed and redacted thinking of an Anthropic client on the way to an Anthropic channel', () => {
    const history = [
      { role: 'user', content: 'What is the GCD of 1071 and 462?' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Use Euclid.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b' },
          { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix' },
          { type: 'tool_use', id: 'toolu_01', name: 'calc', input: { a: 1071, b: 462 } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '21' }] },
    ];
    const body = toMessagesRequest(
      toChatRequest(
        parseMessagesRequest({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: history }),
      ),
      1,
    );
    expect((body.messages as { content: unknown[] }[])[1]!.content).toEqual(history[1]!.content);
  });
});

describe('golden OpenAI function calling against an Anthropic channel, and back', () => {
  const request = json('openai-tools.request.json');
  const fn = (request.tools as { function: Record<string, unknown> }[])[0]!.function;

  it('the OpenAI docs’ request becomes the golden Messages body', () => {
    // The neutral chat the OpenAI dialect reads from openai-tools.request.json.
    const chat: ChatRequest = {
      model: String(request.model),
      system: [],
      messages: [
        {
          role: 'user',
          content: [{ type: 'text', text: 'What is the weather like in Boston today?' }],
        },
      ],
      tools: [
        {
          name: String(fn.name),
          description: String(fn.description),
          inputSchema: fn.parameters as Record<string, unknown>,
        },
      ],
      toolChoice: { type: 'auto' },
      stop: [],
      stream: false,
    };
    expect(toMessagesRequest(chat, 4096)).toEqual(json('openai-tools.request.anthropic.json'));
  });

  it('the OpenAI docs’ answer becomes the golden Messages answer for an Anthropic client', () => {
    const answer = json('openai-tools.response.json');
    const call = (
      answer.choices as {
        message: { tool_calls: { id: string; function: { name: string; arguments: string } }[] };
      }[]
    )[0]!.message.tool_calls[0]!;
    // The neutral answer the OpenAI adapter decodes from openai-tools.response.json.
    const response: ChatResponse = {
      id: String(answer.id),
      model: String(answer.model),
      content: [
        {
          type: 'tool_call',
          id: call.id,
          name: call.function.name,
          input: JSON.parse(call.function.arguments) as Record<string, unknown>,
        },
      ],
      // finish_reason tool_calls
      stopReason: 'tool_use',
      usage: { promptTokens: 82, completionTokens: 17, reasoningTokens: 0 },
    };
    expect(renderMessage(response, 'claude-sonnet-4-6')).toEqual(
      json('openai-tools.response.anthropic.json'),
    );
  });
});
