import { describe, expect, it } from 'vitest';
import { renderChatCompletion } from '../../dialects/openai/chat-response.ts';
import { openAiChatToResponse } from './chat-response.ts';

const COMPLETION = {
  id: 'chatcmpl-abc',
  object: 'chat.completion',
  created: 1741570283,
  model: 'deepseek-reasoner',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        reasoning_content: 'Need the weather.',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: {
    prompt_tokens: 19,
    completion_tokens: 10,
    total_tokens: 29,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 4 },
  },
};

describe('chat completion answers in neutral form and back', () => {
  it('reads reasoning, tool calls, the stop reason and usage', () => {
    expect(openAiChatToResponse(COMPLETION)).toEqual({
      id: 'chatcmpl-abc',
      model: 'deepseek-reasoner',
      content: [
        { type: 'thinking', text: 'Need the weather.' },
        { type: 'tool_call', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
      ],
      stopReason: 'tool_use',
      usage: { promptTokens: 19, completionTokens: 10, cacheReadTokens: 0, reasoningTokens: 4 },
    });
    expect(openAiChatToResponse({ object: 'list' })).toBeUndefined();
  });

  it('renders the same answer back under the model name the client asked for', () => {
    const back = renderChatCompletion(openAiChatToResponse(COMPLETION)!, 'my-alias', 1741570283);
    expect(back).toMatchObject({
      id: 'chatcmpl-abc',
      model: 'my-alias',
      choices: [
        {
          finish_reason: 'tool_calls',
          message: {
            content: null,
            reasoning_content: 'Need the weather.',
            tool_calls: COMPLETION.choices[0]!.message.tool_calls,
          },
        },
      ],
      usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
    });
  });
});
