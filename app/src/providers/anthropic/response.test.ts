import { describe, expect, it } from 'vitest';
import { anthropicToolName, toolNameMap } from './names.ts';
import { fromMessage } from './response.ts';
import { readAnthropicUsage } from './usage.ts';

describe('readAnthropicUsage', () => {
  it('sums the three input parts into the prompt and keeps each cache part', () => {
    expect(
      readAnthropicUsage({
        input_tokens: 50,
        cache_read_input_tokens: 100_000,
        cache_creation_input_tokens: 556,
        cache_creation: { ephemeral_5m_input_tokens: 456, ephemeral_1h_input_tokens: 100 },
        output_tokens: 503,
        output_tokens_details: { thinking_tokens: 300 },
      }),
    ).toEqual({
      promptTokens: 100_606,
      completionTokens: 503,
      cacheReadTokens: 100_000,
      cacheWrite5mTokens: 456,
      cacheWrite1hTokens: 100,
      reasoningTokens: 300,
    });
  });

  it('counts cache writes without a lifetime split as 5-minute writes', () => {
    expect(
      readAnthropicUsage({ input_tokens: 10, cache_creation_input_tokens: 248, output_tokens: 1 }),
    ).toEqual({
      promptTokens: 258,
      completionTokens: 1,
      cacheWrite5mTokens: 248,
    });
  });

  it('reports nothing for an object without token counts', () => {
    expect(readAnthropicUsage(undefined)).toBeUndefined();
    expect(readAnthropicUsage({ service_tier: 'standard' })).toBeUndefined();
  });
});

describe('fromMessage', () => {
  it('reads a message into the neutral answer, tool names back in the client’s words', () => {
    const long = `mcp__tools__${'x'.repeat(70)}`;
    const names = toolNameMap({
      model: 'm',
      system: [],
      messages: [],
      tools: [{ name: long, inputSchema: {} }],
      stop: [],
      stream: false,
    });
    const response = fromMessage(
      {
        id: 'msg_01Aq9w938a90dw8q',
        type: 'message',
        role: 'assistant',
        model: 'claude-opus-4-8',
        content: [
          { type: 'thinking', thinking: 'Check the weather.', signature: 'sig' },
          { type: 'redacted_thinking', data: 'enc' },
          { type: 'text', text: 'I’ll check.' },
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
          { type: 'tool_use', id: 'toolu_01A', name: anthropicToolName(long), input: { q: 1 } },
        ],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 6 },
      },
      names,
    );
    expect(response).toEqual({
      id: 'msg_01Aq9w938a90dw8q',
      model: 'claude-opus-4-8',
      content: [
        { type: 'thinking', text: 'Check the weather.', signature: 'sig' },
        { type: 'redacted_thinking', data: 'enc' },
        { type: 'text', text: 'I’ll check.' },
        { type: 'tool_call', id: 'toolu_01A', name: long, input: { q: 1 } },
      ],
      stopReason: 'tool_use',
      stopSequence: null,
      usage: { promptTokens: 12, completionTokens: 6 },
    });
  });

  it('reads model_context_window_exceeded and stop sequences', () => {
    const names = toolNameMap(undefined);
    const base = { type: 'message', content: [], usage: { input_tokens: 1, output_tokens: 1 } };
    expect(
      fromMessage({ ...base, stop_reason: 'model_context_window_exceeded' }, names)?.stopReason,
    ).toBe('context_window_exceeded');
    expect(
      fromMessage({ ...base, stop_reason: 'stop_sequence', stop_sequence: '##' }, names),
    ).toMatchObject({
      stopReason: 'stop_sequence',
      stopSequence: '##',
    });
  });

  it('is undefined for a body that is not a message', () => {
    expect(fromMessage({ type: 'error', error: {} }, toolNameMap(undefined))).toBeUndefined();
    expect(fromMessage('nope', toolNameMap(undefined))).toBeUndefined();
  });
});
