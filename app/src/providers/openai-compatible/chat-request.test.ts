import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../core/chat.ts';
import { neutralToOpenAiChat } from './chat-request.ts';

const base: ChatRequest = {
  model: 'deepseek-chat',
  system: [],
  messages: [],
  tools: [],
  stop: [],
  stream: false,
};

describe('neutralToOpenAiChat', () => {
  it('splits tool results into tool messages before what the user said, images after them', () => {
    const body = neutralToOpenAiChat({
      ...base,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Use tools.', cache: {} },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_call', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              toolCallId: 'toolu_1',
              content: [
                { type: 'text', text: '18C' },
                { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAA=' } },
              ],
            },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.\n\nUse tools.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA=' } },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('sends reasoning back only for the tool loop still under way', () => {
    const think = (text: string) => ({ type: 'thinking' as const, text, signature: 's' });
    const body = neutralToOpenAiChat({
      ...base,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Q1' }] },
        { role: 'assistant', content: [think('old'), { type: 'text', text: 'A1' }] },
        { role: 'user', content: [{ type: 'text', text: 'Q2' }] },
        {
          role: 'assistant',
          content: [think('new'), { type: 'tool_call', id: 'c1', name: 't', input: {} }],
        },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [] }] },
      ],
    });
    const assistants = (body.messages as Record<string, unknown>[]).filter(
      (m) => m.role === 'assistant',
    );
    expect(assistants[0]).not.toHaveProperty('reasoning_content');
    expect(assistants[1]).toMatchObject({ reasoning_content: 'new' });
  });

  it('names the output limit as each upstream expects, and asks for usage on streams', () => {
    expect(neutralToOpenAiChat({ ...base, maxTokens: 100 })).toMatchObject({ max_tokens: 100 });
    expect(neutralToOpenAiChat({ ...base, model: 'o3-mini', maxTokens: 100 })).toMatchObject({
      max_completion_tokens: 100,
    });
    expect(neutralToOpenAiChat({ ...base, stream: true })).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends reasoning_effort only when the client named an effort', () => {
    expect(
      neutralToOpenAiChat({ ...base, thinking: { enabled: true, budgetTokens: 4000 } }),
    ).not.toHaveProperty('reasoning_effort');
    expect(
      neutralToOpenAiChat({ ...base, thinking: { enabled: true, effort: 'max' } }),
    ).toMatchObject({
      reasoning_effort: 'high',
    });
  });

  it('maps tool choice and tools', () => {
    const body = neutralToOpenAiChat({
      ...base,
      tools: [{ name: 'weather', description: 'Weather now', inputSchema: { type: 'object' } }],
      toolChoice: { type: 'tool', name: 'weather' },
      parallelToolCalls: false,
    });
    expect(body).toMatchObject({
      tools: [
        {
          type: 'function',
          function: { name: 'weather', description: 'Weather now', parameters: { type: 'object' } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      parallel_tool_calls: false,
    });
  });
});
