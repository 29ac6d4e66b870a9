import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../core/chat.ts';
import { assistant, chatTo, text, user } from '../../../../test/fixtures/neutral-chat.ts';
import { invalidConverseBody } from '../../../../test/fixtures/aws/bedrock-runtime.ts';
import { LEADING_USER_TEXT, toConverseRequest } from './converse-request.ts';

const chat = chatTo('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
const call = (id: string, name = 'get_weather') => ({
  type: 'tool_call' as const,
  id,
  name,
  input: { city: 'Paris' },
});
const result = (id: string, t = 'sunny') => ({
  type: 'tool_result' as const,
  toolCallId: id,
  content: [text(t)],
});

/** The body must also pass the fake runtime's copy of Bedrock's checks. */
function build(c: ChatRequest): Record<string, unknown> {
  const { body } = toConverseRequest(c, 4096);
  expect(invalidConverseBody(body, c.model)).toBeUndefined();
  return body;
}

describe('toConverseRequest', () => {
  it('builds system, messages and inferenceConfig; the model stays out of the body', () => {
    const out = toConverseRequest(
      chat({ system: [text('Be brief.')], temperature: 0.2, stop: ['END'], maxTokens: 100 }),
      4096,
    );
    expect(out.modelId).toBe('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(out.body).toEqual({
      messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 100, temperature: 0.2, stopSequences: ['END'] },
    });
  });

  it('merges parallel tool results into one user turn, results first, roles alternating', () => {
    const body = build(
      chat({
        tools: [{ name: 'get_weather', inputSchema: { type: 'object' } }],
        messages: [
          user(text('Weather in Paris and Rome?')),
          assistant(call('t1'), call('t2')),
          user(result('t1')),
          user(result('t2', 'rainy'), text('And tomorrow?')),
        ],
      }),
    );
    const messages = body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[2]!.content.map((b) => Object.keys(b)[0])).toEqual([
      'toolResult',
      'toolResult',
      'text',
    ]);
  });

  it('puts a user turn before a leading assistant turn', () => {
    const body = build(
      chat({ messages: [assistant(text('Hello, how can I help?')), user(text('Hi'))] }),
    );
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: LEADING_USER_TEXT }] },
      { role: 'assistant', content: [{ text: 'Hello, how can I help?' }] },
      { role: 'user', content: [{ text: 'Hi' }] },
    ]);
  });

  it('declares the tools a history names when the request sends none', () => {
    const body = build(
      chat({
        messages: [user(text('Weather?')), assistant(call('t1')), user(result('t1'))],
      }),
    );
    expect(body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }],
    });
  });

  it('keeps toolConfig for the history when the client says tool_choice none', () => {
    const body = build(
      chat({
        tools: [{ name: 'get_weather', inputSchema: { type: 'object' } }],
        toolChoice: { type: 'none' },
        messages: [user(text('Weather?')), assistant(call('t1')), user(result('t1'))],
      }),
    );
    expect(body.toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'get_weather' } }] });
    expect((body.toolConfig as Record<string, unknown>).toolChoice).toBeUndefined();
    const told = (messages: ChatRequest['messages']) =>
      toConverseRequest(
        chat({
          tools: [{ name: 'get_weather', inputSchema: { type: 'object' } }],
          toolChoice: { type: 'none' },
          messages,
        }),
        4096,
      ).dropped;
    // The operator hears of it only when the tools stay declared.
    expect(told([user(text('Weather?')), assistant(call('t1')), user(result('t1'))])).toEqual([
      expect.stringContaining('tool_choice none'),
    ]);
    expect(told([user(text('Weather?'))])).toEqual([]);
  });

  it('drops blank text blocks, and a turn left with nothing', () => {
    const body = build(
      chat({
        system: [text('  ')],
        messages: [user(text('Hi'), text(' \n')), assistant(text('')), user(text('Again'))],
      }),
    );
    expect(body.system).toBeUndefined();
    expect(body.messages).toEqual([{ role: 'user', content: [{ text: 'Hi' }, { text: 'Again' }] }]);
  });

  it('turns cache marks into cachePoint blocks, at most 4, the last ones', () => {
    const marked = (t: string) => ({ type: 'text' as const, text: t, cache: {} });
    const body = build(
      chat({
        system: [marked('s1'), marked('s2')],
        tools: [{ name: 'a', inputSchema: { type: 'object' }, cache: {} }],
        messages: [user(marked('u1'), marked('u2'))],
      }),
    );
    const point = { cachePoint: { type: 'default' } };
    // Prompt order is tools, system, messages: the tool's mark is the first one dropped.
    expect((body.toolConfig as { tools: unknown[] }).tools).toHaveLength(1);
    expect(body.system).toEqual([{ text: 's1' }, point, { text: 's2' }, point]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'u1' }, point, { text: 'u2' }, point] },
    ]);
  });

  it('sends cache points only where the model takes them (Claude Code marks every request)', () => {
    const marked = (t: string) => ({ type: 'text' as const, text: t, cache: {} });
    const request = (model: string) =>
      chatTo(model)({
        system: [marked('s1')],
        tools: [{ name: 'a', inputSchema: { type: 'object' }, cache: {} }],
        messages: [user(marked('u1'))],
      });
    const point = { cachePoint: { type: 'default' } };
    const tools = (body: Record<string, unknown>) =>
      (body.toolConfig as { tools: unknown[] }).tools;
    for (const model of ['meta.llama3-3-70b-instruct-v1:0', 'us.mistral.pixtral-large-2502-v1:0']) {
      const body = build(request(model));
      expect(body.system).toEqual([{ text: 's1' }]);
      expect(body.messages).toEqual([{ role: 'user', content: [{ text: 'u1' }] }]);
      expect(tools(body)).toHaveLength(1);
    }
    // Nova caches system and messages, not tool definitions.
    const nova = build(request('us.amazon.nova-pro-v1:0'));
    expect(nova.system).toEqual([{ text: 's1' }, point]);
    expect(nova.messages).toEqual([{ role: 'user', content: [{ text: 'u1' }, point] }]);
    expect(tools(nova)).toHaveLength(1);
    expect(tools(build(request('eu.anthropic.claude-sonnet-4-5-20250929-v1:0')))).toHaveLength(2);
  });

  it('sends images as bytes with their format; a URL image is left for the transport', () => {
    const body = build(
      chat({
        messages: [
          user(
            {
              type: 'image',
              source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
            },
            text('What is this?'),
          ),
        ],
      }),
    );
    expect((body.messages as { content: unknown[] }[])[0]!.content[0]).toEqual({
      image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } },
    });
    const withUrl = toConverseRequest(
      chat({
        messages: [user({ type: 'image', source: { kind: 'url', url: 'https://x.test/a.png' } })],
      }),
      4096,
    ).body;
    expect((withUrl.messages as { content: unknown[] }[])[0]!.content[0]).toEqual({
      image: { source: { url: 'https://x.test/a.png' } },
    });
  });

  it('maps tool choice; Claude thinking and sampling follow what the model takes', () => {
    const tools = [{ name: 'a', inputSchema: { type: 'object' } }];
    const thinking = { enabled: true, budgetTokens: 2048 };
    const auto = build(
      chat({ tools, toolChoice: { type: 'auto' }, thinking, topK: 5, temperature: 0.3 }),
    );
    expect(auto.toolConfig).toMatchObject({ toolChoice: { auto: {} } });
    // Thinking on: no temperature, no top_k (Claude refuses them with thinking).
    expect(auto.additionalModelRequestFields).toEqual({
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    expect(auto.inferenceConfig).toEqual({ maxTokens: 4096 });
    // A forced tool call: thinking gives way, sampling stays.
    const forced = build(chat({ tools, toolChoice: { type: 'required' }, thinking, topK: 5 }));
    expect(forced.toolConfig).toMatchObject({ toolChoice: { any: {} } });
    expect(forced.additionalModelRequestFields).toEqual({ top_k: 5 });
    // Claude 4.7 and later think adaptively and refuse sampling settings.
    const opus = build(
      chat({ model: 'global.anthropic.claude-opus-4-7-v1:0', thinking, temperature: 0.3 }),
    );
    expect(opus.additionalModelRequestFields).toEqual({ thinking: { type: 'adaptive' } });
    expect(opus.inferenceConfig).toEqual({ maxTokens: 4096 });
    // Other models get no Claude fields, and their sampling as asked.
    const nova = build(chat({ model: 'amazon.nova-pro-v1:0', topK: 5, temperature: 0.3 }));
    expect(nova.additionalModelRequestFields).toBeUndefined();
    expect(nova.inferenceConfig).toEqual({ maxTokens: 4096, temperature: 0.3 });
  });

  it('drops Claude thinking in a tool loop whose assistant turn lost its signed reasoning', () => {
    const body = build(
      chat({
        tools: [{ name: 'get_weather', inputSchema: { type: 'object' } }],
        thinking: { enabled: true, budgetTokens: 2048 },
        messages: [user(text('Weather?')), assistant(call('t1')), user(result('t1'))],
      }),
    );
    expect(body.additionalModelRequestFields).toBeUndefined();
  });

  it("refuses an image type Bedrock cannot take, as the client's 400", () => {
    expect(() =>
      toConverseRequest(
        chat({
          messages: [
            user({
              type: 'image',
              source: { kind: 'base64', mediaType: 'image/bmp', data: 'Qk0=' },
            }),
          ],
        }),
        4096,
      ),
    ).toThrow(expect.objectContaining({ failure: expect.objectContaining({ status: 400 }) }));
  });
});
