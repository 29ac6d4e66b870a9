import { describe, expect, it } from 'vitest';
import type { ChatResponse } from '../../core/chat.ts';
import { renderMessage } from './response.ts';

const base: ChatResponse = {
  id: 'chatcmpl-abc123',
  model: 'deepseek-reasoner',
  content: [],
  stopReason: 'end_turn',
};

describe('renderMessage', () => {
  it('renders a Messages API message under the name the client asked for', () => {
    const message = renderMessage(
      {
        ...base,
        content: [
          { type: 'thinking', text: 'Adding.', signature: 'sig' },
          { type: 'text', text: '4' },
        ],
        usage: { promptTokens: 12, completionTokens: 6 },
      },
      'claude-sonnet-4-6',
    );
    expect(message).toEqual({
      id: 'msg_chatcmpl-abc123',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [
        { type: 'thinking', thinking: 'Adding.', signature: 'sig' },
        { type: 'text', text: '4' },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      stop_details: null,
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 6,
      },
    });
  });

  it('says tool_use when the answer calls tools, and leaves out the empty text before them', () => {
    const message = renderMessage(
      {
        ...base,
        content: [
          { type: 'text', text: '' },
          {
            type: 'tool_call',
            id: 'call_1',
            name: 'get_weather',
            input: { location: 'Boston, MA' },
          },
        ],
        stopReason: 'end_turn',
      },
      'c',
    );
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Boston, MA' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('splits the prompt total back into Anthropic’s three disjoint input parts', () => {
    const message = renderMessage(
      {
        ...base,
        usage: {
          promptTokens: 100_798,
          completionTokens: 503,
          cacheReadTokens: 100_000,
          cacheWrite5mTokens: 456,
          cacheWrite1hTokens: 100,
          reasoningTokens: 200,
        },
      },
      'c',
    );
    expect(message.usage).toEqual({
      input_tokens: 242,
      cache_creation_input_tokens: 556,
      cache_read_input_tokens: 100_000,
      cache_creation: { ephemeral_5m_input_tokens: 456, ephemeral_1h_input_tokens: 100 },
      output_tokens: 503,
      output_tokens_details: { thinking_tokens: 200 },
    });
  });

  it('keeps an Anthropic id as it is and gives an answer without one a fresh msg_ id', () => {
    expect(renderMessage({ ...base, id: 'msg_01XF' }, 'c').id).toBe('msg_01XF');
    const a = renderMessage({ ...base, id: '' }, 'c').id;
    const b = renderMessage({ ...base, id: '' }, 'c').id;
    expect(a).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });

  it('answers a safety stop as a refusal and an unknown one as end_turn', () => {
    expect(renderMessage({ ...base, stopReason: 'content_filter' }, 'c').stop_reason).toBe(
      'refusal',
    );
    expect(renderMessage({ ...base, stopReason: null }, 'c').stop_reason).toBe('end_turn');
  });
});
