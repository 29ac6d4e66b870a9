import { describe, expect, it } from 'vitest';
import type { RelayError } from '../../errors.ts';
import { openAiChatToNeutral } from './chat-request.ts';

describe('openAiChatToNeutral', () => {
  it('collects system and developer messages, and puts tool results into one user turn', () => {
    const chat = openAiChatToNeutral({
      model: 'claude-x',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '21C' }] },
      ],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      max_completion_tokens: 300,
      stop: 'END',
      user: 'u-1',
    });
    expect(chat.system).toEqual([
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Use tools.' },
    ]);
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(chat.messages[1]!.content).toEqual([
      { type: 'tool_call', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
      // Broken JSON from a model still becomes an object, which every other dialect needs.
      { type: 'tool_call', id: 'call_2', name: 'weather', input: {} },
    ]);
    expect(chat.messages[2]!.content).toEqual([
      { type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '18C' }] },
      { type: 'tool_result', toolCallId: 'call_2', content: [{ type: 'text', text: '21C' }] },
    ]);
    expect(chat).toMatchObject({
      toolChoice: { type: 'required' },
      parallelToolCalls: false,
      maxTokens: 300,
      stop: ['END'],
      user: 'u-1',
      tools: [{ name: 'weather', inputSchema: { type: 'object' } }],
    });
  });

  it('reads images as inline bytes or URLs, and signed thinking sent back by the client', () => {
    const chat = openAiChatToNeutral({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            {
              type: 'image_url',
              image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' },
            },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: 'A cat.',
          reasoning_content: 'ignored when thinking_blocks carry the signed original',
          thinking_blocks: [{ type: 'thinking', thinking: 'Looks feline.', signature: 'sig-1' }],
        },
        { role: 'user', content: 'Sure?' },
      ],
    });
    expect(chat.messages[0]!.content).toEqual([
      { type: 'text', text: 'What is this?' },
      {
        type: 'image',
        source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
        detail: 'low',
      },
      { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    expect(chat.messages[1]!.content).toEqual([
      { type: 'thinking', text: 'Looks feline.', signature: 'sig-1' },
      { type: 'text', text: 'A cat.' },
    ]);
  });

  it('maps reasoning_effort, and refuses with a 400 what no other dialect can take', () => {
    expect(
      openAiChatToNeutral({ model: 'm', messages: [], reasoning_effort: 'high' }).thinking,
    ).toEqual({
      enabled: true,
      effort: 'high',
    });
    const refused = (body: Record<string, unknown>) => {
      try {
        openAiChatToNeutral({ model: 'm', ...body });
      } catch (err) {
        return err as RelayError;
      }
      throw new Error('accepted');
    };
    expect(refused({ messages: [], n: 2 })).toMatchObject({ status: 400, param: 'n' });
    expect(
      refused({
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }],
      }),
    ).toMatchObject({ status: 400, param: 'messages.0.content.0' });
    expect(refused({ messages: [{ role: 'wizard', content: 'x' }] })).toMatchObject({
      status: 400,
      param: 'messages.0.role',
    });
  });
});
