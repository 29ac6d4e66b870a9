import { describe, expect, it } from 'vitest';
import type { ChatMessage, ChatRequest } from '../../core/chat.ts';
import { assistant, chatTo, text, user } from '../../../../test/fixtures/neutral-chat.ts';
import { invalidMessagesBody } from '../../../../test/fixtures/anthropic-upstream.ts';
import { anthropicToolId, anthropicToolName } from './names.ts';
import { toMessagesRequest } from './request.ts';

const chat = chatTo('claude-sonnet-4-5');

/** The body must also pass the fake upstream's copy of Anthropic's checks. */
function build(c: ChatRequest, defaultMaxTokens = 4096): Record<string, unknown> {
  const body = toMessagesRequest(c, defaultMaxTokens);
  expect(invalidMessagesBody(body)).toBeUndefined();
  return body;
}

describe('toMessagesRequest', () => {
  it('builds a plain request: system blocks with cache marks, max_tokens default, user id', () => {
    expect(
      build(
        chat({
          system: [
            text('You are terse.'),
            { type: 'text', text: 'Docs…', cache: { ttl: '1h' } },
            text('  '),
          ],
          user: 'user-1',
        }),
      ),
    ).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: [
        { type: 'text', text: 'You are terse.' },
        { type: 'text', text: 'Docs…', cache_control: { type: 'ephemeral', ttl: '1h' } },
      ],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      metadata: { user_id: 'user-1' },
    });
  });

  it('merges one turn’s tool results into one user message, before its text, once per id', () => {
    const body = build(
      chat({
        messages: [
          user(text('Weather in Paris and Rome?')),
          assistant(
            { type: 'tool_call', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_call', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
          ),
          // OpenAI sends each result as its own `tool` message, and the next user text after them.
          user({ type: 'tool_result', toolCallId: 'call_1', content: [text('18°C')] }),
          user(text('Also, be brief.'), {
            type: 'tool_result',
            toolCallId: 'call_2',
            content: [text('21°C')],
          }),
          user({ type: 'tool_result', toolCallId: 'call_2', content: [text('21°C')] }),
        ],
      }),
    );
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: '18°C' }] },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '21°C' }] },
          { type: 'text', text: 'Also, be brief.' },
        ],
      },
    ]);
  });

  it('drops empty and whitespace-only text, and a turn left with nothing', () => {
    const body = build(
      chat({
        messages: [
          user(text('first')),
          assistant(text(''), text('  \n')),
          user(text('second'), text('')),
          assistant(text('answer')),
          user({ type: 'tool_result', toolCallId: 't', content: [text('')] }),
        ],
      }),
    );
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'first' },
          { type: 'text', text: 'second' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'answer' }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't' }] },
    ]);
  });

  it('trims the trailing whitespace Anthropic refuses in a final assistant prefill', () => {
    const body = build(chat({ messages: [user(text('Q')), assistant(text('The answer is '))] }));
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Q' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'The answer is' }] },
    ]);
  });

  it('rewrites unsafe tool ids the same way in tool_use and tool_result, and long names everywhere', () => {
    const longName = `mcp__docs__${'search_the_documentation_index_'.repeat(3)}`;
    const body = build(
      chat({
        tools: [
          {
            name: longName,
            description: 'Search',
            inputSchema: { type: 'object', properties: {} },
          },
        ],
        toolChoice: { type: 'tool', name: longName },
        messages: [
          user(text('find it')),
          assistant({
            type: 'tool_call',
            id: 'functions.search:0',
            name: longName,
            input: { q: 'x' },
          }),
          user({ type: 'tool_result', toolCallId: 'functions.search:0', content: [text('found')] }),
        ],
      }),
    );
    const id = anthropicToolId('functions.search:0');
    const name = anthropicToolName(longName);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(body.tools).toEqual([
      { name, description: 'Search', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.tool_choice).toEqual({ type: 'tool', name });
    const [, call, result] = body.messages as { content: Record<string, unknown>[] }[];
    expect(call!.content[0]).toMatchObject({ type: 'tool_use', id, name });
    expect(result!.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: id });
  });

  it('keeps thinking with its signature and drops thinking no Anthropic model can verify', () => {
    const body = build(
      chat({
        messages: [
          user(text('Q')),
          assistant(
            { type: 'thinking', text: 'Signed reasoning.', signature: 'EqQBCgIYAhIM' },
            { type: 'thinking', text: '', signature: 'EosnCkYICxIM' },
            { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3p' },
            { type: 'thinking', text: 'DeepSeek reasoning_content, unsigned.' },
            text('A'),
          ),
          user(text('Next')),
        ],
      }),
    );
    expect((body.messages as { content: unknown[] }[])[1]!.content).toEqual([
      { type: 'thinking', thinking: 'Signed reasoning.', signature: 'EqQBCgIYAhIM' },
      { type: 'thinking', thinking: '', signature: 'EosnCkYICxIM' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3p' },
      { type: 'text', text: 'A' },
    ]);
  });

  it('sends images as base64 or URL sources (data: URLs as base64) and text documents as text', () => {
    const body = build(
      chat({
        messages: [
          user(
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' } },
            { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'image', source: { kind: 'url', url: 'data:image/jpeg;base64,/9j/4AAQ' } },
            {
              type: 'document',
              source: {
                kind: 'base64',
                mediaType: 'text/plain',
                data: Buffer.from('notes').toString('base64'),
              },
              title: 'notes.txt',
            },
            { type: 'document', source: { kind: 'url', url: 'https://example.com/a.pdf' } },
            text('Describe.'),
          ),
        ],
      }),
    );
    expect((body.messages as { content: unknown[] }[])[0]!.content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
      {
        type: 'document',
        source: { type: 'text', media_type: 'text/plain', data: 'notes' },
        title: 'notes.txt',
      },
      { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
      { type: 'text', text: 'Describe.' },
    ]);
  });

  it('maps tool choice and parallel calls: required → any, parallel off → disable_parallel_tool_use', () => {
    const tools = [{ name: 'f', inputSchema: {} }];
    expect(build(chat({ tools, toolChoice: { type: 'required' } })).tool_choice).toEqual({
      type: 'any',
    });
    expect(build(chat({ tools, toolChoice: { type: 'none' } })).tool_choice).toEqual({
      type: 'none',
    });
    expect(build(chat({ tools, parallelToolCalls: false })).tool_choice).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    // A tool without parameters gets the object schema Anthropic requires.
    expect(build(chat({ tools })).tools).toEqual([
      { name: 'f', input_schema: { type: 'object', properties: {} } },
    ]);
    // No tools, no tool_choice (Anthropic refuses one alone).
    expect(build(chat({ toolChoice: { type: 'required' } })).tool_choice).toBeUndefined();
  });

  it('turns effort into a thinking budget on models that take one, with room left under max_tokens', () => {
    const think = (effort: 'low' | 'medium' | 'high', maxTokens?: number) =>
      build(chat({ thinking: { enabled: true, effort }, ...(maxTokens && { maxTokens }) }));
    expect(think('low')).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 1024 },
      max_tokens: 4096,
    });
    expect(think('medium')).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2048 } });
    expect(think('high', 1000)).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 4096 },
      max_tokens: 5096,
    });
    expect(build(chat({ thinking: { enabled: true, budgetTokens: 500 } })).thinking).toEqual({
      type: 'enabled',
      budget_tokens: 1024,
    });
    expect(think('low').output_config).toBeUndefined();
  });

  it('asks Claude 4.6+ for adaptive thinking with an effort, never a budget', () => {
    expect(
      build(chat({ model: 'claude-opus-4-8', thinking: { enabled: true, effort: 'high' } })),
    ).toMatchObject({
      thinking: { type: 'adaptive' },
      output_config: { effort: 'high' },
      max_tokens: 4096,
    });
    expect(
      build(chat({ model: 'claude-sonnet-4-6', thinking: { enabled: true, effort: 'minimal' } }))
        .output_config,
    ).toEqual({ effort: 'low' });
    expect(
      build(chat({ model: 'claude-opus-4-7', thinking: { enabled: true, budgetTokens: 8000 } })),
    ).toMatchObject({ thinking: { type: 'adaptive' }, output_config: { effort: 'high' } });
  });

  it('turns thinking off where it can be turned off, and leaves it out where it cannot', () => {
    expect(build(chat({ thinking: { enabled: false } })).thinking).toEqual({ type: 'disabled' });
    expect(
      build(chat({ model: 'claude-fable-5', thinking: { enabled: false } })).thinking,
    ).toBeUndefined();
  });

  it('gives budget thinking up for a forced tool call, which Anthropic refuses with it', () => {
    const body = build(
      chat({
        tools: [{ name: 'f', inputSchema: {} }],
        toolChoice: { type: 'required' },
        thinking: { enabled: true },
      }),
    );
    expect(body.thinking).toBeUndefined();
    expect(body.tool_choice).toEqual({ type: 'any' });
  });

  it('sends thinking only while every turn of the running tool loop starts with signed thinking', () => {
    const call = { type: 'tool_call' as const, id: 'toolu_1', name: 'weather', input: {} };
    const result = { type: 'tool_result' as const, toolCallId: 'toolu_1', content: [text('18C')] };
    const signed = { type: 'thinking' as const, text: 'Need weather.', signature: 'sig' };
    const loop = (...first: ChatMessage['content']) =>
      chat({
        model: 'claude-sonnet-4-5',
        thinking: { enabled: true, budgetTokens: 2048 },
        maxTokens: 8000,
        messages: [user(text('Weather?')), assistant(...first, call), user(result)],
      });
    expect(build(loop(signed))).toMatchObject({
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    // A client that dropped the signed block (or reasoning from another provider): no thinking,
    // which Anthropic would refuse with a 400 for this conversation.
    expect(build(loop())).not.toHaveProperty('thinking');
    expect(build(loop({ type: 'thinking', text: 'unsigned' }))).not.toHaveProperty('thinking');
  });

  it('sends sampling only as the model takes it', () => {
    expect(build(chat({ temperature: 1.6, topP: 0.9, topK: 40.4 }))).toMatchObject({
      temperature: 1,
      top_p: 0.9,
      top_k: 40,
    });
    // Claude 4.7 and later refuse sampling parameters outright.
    const newest = build(chat({ model: 'claude-opus-4-7', temperature: 0.7, topP: 0.9, topK: 5 }));
    expect(newest).not.toHaveProperty('temperature');
    expect(newest).not.toHaveProperty('top_p');
    expect(newest).not.toHaveProperty('top_k');
    // With thinking on: no temperature or top_k, top_p only from 0.95.
    const thinking = build(
      chat({ temperature: 0.2, topP: 0.97, topK: 5, thinking: { enabled: true } }),
    );
    expect(thinking).toMatchObject({ top_p: 0.97 });
    expect(thinking).not.toHaveProperty('temperature');
    expect(thinking).not.toHaveProperty('top_k');
  });

  it('keeps only the last 4 cache marks, as Anthropic takes no more', () => {
    const mark = { ttl: '5m' as const };
    const body = build(
      chat({
        tools: [{ name: 'f', inputSchema: {}, cache: mark }],
        system: [{ type: 'text', text: 'sys', cache: mark }],
        messages: [
          user({ type: 'text', text: 'one', cache: mark }),
          assistant({ type: 'text', text: 'two', cache: mark }),
          user({
            type: 'tool_result',
            toolCallId: 't',
            content: [{ type: 'text', text: 'r', cache: mark }],
            cache: mark,
          }),
        ],
      }),
    );
    const marked = JSON.stringify(body).match(/"cache_control"/g);
    expect(marked).toHaveLength(4);
    expect((body.tools as Record<string, unknown>[])[0]).not.toHaveProperty('cache_control');
    expect((body.system as Record<string, unknown>[])[0]).not.toHaveProperty('cache_control');
    const last = (body.messages as { content: Record<string, unknown>[] }[])[2]!.content[0]!;
    expect(last.cache_control).toEqual({ type: 'ephemeral', ttl: '5m' });
  });

  it('keeps stop sequences Anthropic takes, a JSON schema as output_config.format, and the stream flag', () => {
    const body = build(
      chat({
        stop: ['\n', 'END'],
        stream: true,
        responseFormat: { type: 'json_schema', name: 'x', schema: { type: 'object' } },
      }),
    );
    expect(body).toMatchObject({
      stop_sequences: ['END'],
      stream: true,
      output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
    });
    expect(build(chat({ responseFormat: { type: 'json_object' } }))).not.toHaveProperty(
      'output_config',
    );
  });
});
