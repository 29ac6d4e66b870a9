import { describe, expect, it } from 'vitest';
import { RelayError } from '../../errors.ts';
import {
  parseCountTokensRequest,
  parseMessagesRequest,
  readChatRequest,
  toChatRequest,
} from './request.ts';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('parseMessagesRequest', () => {
  it('accepts a minimal request and keeps every field it does not check', () => {
    const body = parseMessagesRequest({
      model: 'claude-opus-4-8',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hello, Claude' }],
      container: 'c_1',
      speed: 'fast',
    });
    expect(body).toMatchObject({ container: 'c_1', speed: 'fast' });
  });

  it('accepts max_tokens 0 (a cache warm-up)', () => {
    expect(parseMessagesRequest({ model: 'm', max_tokens: 0, messages: [] }).max_tokens).toBe(0);
  });

  it.each([
    [{ max_tokens: 1, messages: [] }, 'model'],
    [{ model: 'm', messages: [] }, 'max_tokens'],
    [{ model: 'm', max_tokens: 1.5, messages: [] }, 'max_tokens'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.role'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user' }] }, 'messages.0.content'],
    [{ model: 'm', max_tokens: 1, messages: [], stream: 'yes' }, 'stream'],
    [{ model: 'm', max_tokens: 1, messages: [], system: [{ type: 'image' }] }, 'system.0.type'],
  ])('refuses %j with a 400 naming %s', (body, param) => {
    let error: unknown;
    try {
      parseMessagesRequest(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RelayError);
    expect((error as RelayError).status).toBe(400);
    expect((error as RelayError).param).toBe(param);
    expect((error as RelayError).message).toMatch(new RegExp(`^${param.replace(/\./g, '\\.')}: `));
  });

  it('takes a count_tokens request, which has no max_tokens', () => {
    expect(parseCountTokensRequest({ model: 'm', messages: [] }).model).toBe('m');
    expect(() => parseCountTokensRequest({ messages: [] })).toThrow(RelayError);
  });
});

describe('toChatRequest', () => {
  it('reads system blocks, cache marks and every content block kind', () => {
    const chat = toChatRequest(
      parseMessagesRequest({
        model: 'claude-sonnet-4-6',
        max_tokens: 2048,
        system: [
          { type: 'text', text: 'You are terse.' },
          { type: 'text', text: 'Big context', cache_control: { type: 'ephemeral', ttl: '1h' } },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
              {
                type: 'document',
                source: { type: 'text', media_type: 'text/plain', data: 'notes' },
                title: 'N',
              },
              { type: 'text', text: 'What is here?', cache_control: { type: 'ephemeral' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Let me look.', signature: 'sig-1' },
              { type: 'redacted_thinking', data: 'enc' },
              { type: 'tool_use', id: 'toolu_1', name: 'read', input: { path: 'a' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'file text' },
              {
                type: 'tool_result',
                tool_use_id: 'toolu_2',
                is_error: true,
                content: [
                  { type: 'text', text: 'failed' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(chat.system).toEqual([
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Big context', cache: { ttl: '1h' } },
    ]);
    expect(chat.messages[0]!.content).toEqual([
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: PNG } },
      { type: 'image', source: { kind: 'url', url: 'https://example.com/a.jpg' } },
      {
        type: 'document',
        source: {
          kind: 'base64',
          mediaType: 'text/plain',
          data: Buffer.from('notes').toString('base64'),
        },
        title: 'N',
      },
      { type: 'text', text: 'What is here?', cache: {} },
    ]);
    expect(chat.messages[1]!.content).toEqual([
      { type: 'thinking', text: 'Let me look.', signature: 'sig-1' },
      { type: 'redacted_thinking', data: 'enc' },
      { type: 'tool_call', id: 'toolu_1', name: 'read', input: { path: 'a' } },
    ]);
    expect(chat.messages[2]!.content).toEqual([
      {
        type: 'tool_result',
        toolCallId: 'toolu_1',
        content: [{ type: 'text', text: 'file text' }],
      },
      {
        type: 'tool_result',
        toolCallId: 'toolu_2',
        isError: true,
        content: [
          { type: 'text', text: 'failed' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: PNG } },
        ],
      },
    ]);
    expect(chat.maxTokens).toBe(2048);
    expect(chat.stream).toBe(false);
  });

  it('reads tools, tool choice, sampling, stop sequences, thinking, effort, format and user', () => {
    const chat = toChatRequest(
      parseMessagesRequest({
        model: 'm',
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
        tools: [
          {
            name: 'get_weather',
            description: 'Weather',
            input_schema: { type: 'object', properties: { city: { type: 'string' } } },
            strict: true,
            cache_control: { type: 'ephemeral' },
          },
        ],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        temperature: 0.3,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['END'],
        thinking: { type: 'enabled', budget_tokens: 3000 },
        output_config: {
          effort: 'high',
          format: { type: 'json_schema', schema: { type: 'object' } },
        },
        metadata: { user_id: 'user-123' },
      }),
    );
    expect(chat).toMatchObject({
      tools: [
        {
          name: 'get_weather',
          description: 'Weather',
          inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
          strict: true,
          cache: {},
        },
      ],
      toolChoice: { type: 'required' },
      parallelToolCalls: false,
      temperature: 0.3,
      topP: 0.9,
      topK: 40,
      stop: ['END'],
      stream: true,
      thinking: { enabled: true, budgetTokens: 3000, effort: 'high' },
      responseFormat: { type: 'json_schema', schema: { type: 'object' } },
      user: 'user-123',
    });
  });

  it.each([
    [{ type: 'adaptive' }, { enabled: true }],
    [{ type: 'disabled' }, { enabled: false }],
    [undefined, undefined],
  ])('reads thinking %j as %j', (thinking, expected) => {
    const chat = toChatRequest(
      parseMessagesRequest({
        model: 'm',
        max_tokens: 1,
        messages: [],
        ...(thinking && { thinking }),
      }),
    );
    expect(chat.thinking).toEqual(expected);
  });

  it('maps each tool_choice', () => {
    const choice = (tool_choice: unknown) =>
      toChatRequest(
        parseMessagesRequest({
          model: 'm',
          max_tokens: 1,
          messages: [],
          tools: [{ name: 'f', input_schema: { type: 'object' } }],
          tool_choice,
        }),
      ).toolChoice;
    expect(choice({ type: 'auto' })).toEqual({ type: 'auto' });
    expect(choice({ type: 'any' })).toEqual({ type: 'required' });
    expect(choice({ type: 'none' })).toEqual({ type: 'none' });
    expect(choice({ type: 'tool', name: 'f' })).toEqual({ type: 'tool', name: 'f' });
  });

  it('joins system turns inside messages to the system prompt', () => {
    const chat = toChatRequest(
      parseMessagesRequest({
        model: 'm',
        max_tokens: 1,
        system: 'First.',
        messages: [
          { role: 'system', content: 'Second.' },
          { role: 'user', content: 'hi' },
        ],
      }),
    );
    expect(chat.system.map((p) => p.text)).toEqual(['First.', 'Second.']);
    expect(chat.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
  });

  it('leaves out server tools and server blocks, and says so', () => {
    const { chat, dropped } = readChatRequest(
      parseMessagesRequest({
        model: 'm',
        max_tokens: 1,
        tools: [
          { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
          { name: 'Bash', input_schema: { type: 'object' } },
          { type: 'custom', name: 'Read', input_schema: { type: 'object' } },
        ],
        tool_choice: { type: 'tool', name: 'web_search' },
        messages: [
          {
            role: 'assistant',
            content: [
              {
                type: 'server_tool_use',
                id: 'srvtoolu_1',
                name: 'web_search',
                input: { query: 'q' },
              },
              { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
              { type: 'text', text: 'Found it.' },
            ],
          },
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }],
          },
        ],
      }),
    );
    expect(chat.tools.map((t) => t.name)).toEqual(['Bash', 'Read']);
    // A forced call to a tool that was left out would force a call to nothing.
    expect(chat.toolChoice).toBeUndefined();
    expect(chat.messages[0]!.content).toEqual([{ type: 'text', text: 'Found it.' }]);
    expect(dropped).toEqual([
      'server_tool_use block',
      'web_search_tool_result block',
      'image source file',
      'tool web_search_20250305',
    ]);
  });

  it('reports nothing dropped for an ordinary agent request', () => {
    const { dropped } = readChatRequest(
      parseMessagesRequest({
        model: 'm',
        max_tokens: 1,
        tools: [{ name: 'Read', input_schema: { type: 'object' } }],
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    expect(dropped).toEqual([]);
  });
});
