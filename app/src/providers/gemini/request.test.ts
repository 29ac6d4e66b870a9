import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../core/chat.ts';
import { toGenerateContentRequest } from './request.ts';

const chat = (over: Partial<ChatRequest>): ChatRequest => ({
  model: 'gemini-2.5-flash',
  system: [],
  messages: [],
  tools: [],
  stop: [],
  stream: false,
  ...over,
});

describe('toGenerateContentRequest', () => {
  it('writes turns as Gemini takes them: one per role, named function responses, no empty text', () => {
    const body = toGenerateContentRequest(
      chat({
        system: [{ type: 'text', text: 'Be terse.' }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', text: 'from another provider' },
              { type: 'redacted_thinking', data: 'opaque' },
              { type: 'text', text: '' },
              { type: 'tool_call', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'tool_call', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
            ],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                toolCallId: 'toolu_1',
                content: [{ type: 'text', text: 'Sunny' }],
              },
              {
                type: 'tool_result',
                toolCallId: 'toolu_2',
                content: [{ type: 'text', text: '{"temp":21}' }],
              },
              {
                type: 'tool_result',
                toolCallId: 'toolu_3',
                isError: true,
                content: [{ type: 'text', text: 'boom' }],
              },
            ],
          },
        ],
      }),
    );
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: 'Be terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'get_weather', args: { city: 'Rome' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } },
            { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
            { functionResponse: { name: 'toolu_3', response: { error: 'boom' } } },
          ],
        },
      ],
    });
  });

  it('puts signatures back on the part they came with', () => {
    const body = toGenerateContentRequest(
      chat({
        messages: [
          {
            role: 'assistant',
            content: [
              { type: 'thinking', text: 'Plan.', signature: 'sig-thought' },
              { type: 'thinking', text: '', signature: 'sig-call' },
              { type: 'tool_call', id: 'c1', name: 'f', input: {} },
              { type: 'text', text: 'Done.' },
              { type: 'thinking', text: '', signature: 'sig-end' },
            ],
          },
        ],
      }),
    );
    expect(body.contents).toEqual([
      {
        role: 'model',
        parts: [
          { text: 'Plan.', thought: true, thoughtSignature: 'sig-thought' },
          { functionCall: { name: 'f', args: {} }, thoughtSignature: 'sig-call' },
          { text: 'Done.' },
          { text: '', thoughtSignature: 'sig-end' },
        ],
      },
    ]);
  });

  it('maps tool choice, limits, sampling, stop sequences, JSON output and thinking', () => {
    const body = toGenerateContentRequest(
      chat({
        model: 'gemini-2.5-flash',
        tools: [
          { name: 'f', inputSchema: { type: 'object', properties: { a: { type: 'string' } } } },
        ],
        toolChoice: { type: 'tool', name: 'f' },
        maxTokens: 100,
        temperature: 0.5,
        topP: 0.9,
        topK: 40.4,
        stop: ['a', 'b', 'c', 'd', 'e', 'f'],
        responseFormat: {
          type: 'json_schema',
          schema: { type: 'object', properties: { x: { type: 'string' } } },
        },
        thinking: { enabled: true, effort: 'high' },
      }),
    );
    expect(body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object' } }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } },
      generationConfig: {
        maxOutputTokens: 100,
        temperature: 0.5,
        topP: 0.9,
        topK: 40,
        stopSequences: ['a', 'b', 'c', 'd', 'e'],
        responseMimeType: 'application/json',
        responseSchema: { type: 'object', properties: { x: { type: 'string' } } },
        thinkingConfig: { includeThoughts: true, thinkingBudget: 24576 },
      },
    });
    const levels = toGenerateContentRequest(
      chat({ model: 'gemini-3-pro-preview', thinking: { enabled: true, effort: 'low' } }),
    );
    expect(levels.generationConfig).toEqual({
      thinkingConfig: { includeThoughts: true, thinkingLevel: 'low' },
    });
    const off = toGenerateContentRequest(chat({ thinking: { enabled: false } }));
    expect(off.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    // Gemini 3 cannot stop thinking: off is the least it takes, not its default of high.
    const off3 = (model: string) =>
      toGenerateContentRequest(chat({ model, thinking: { enabled: false } })).generationConfig;
    expect(off3('gemini-3-pro-preview')).toEqual({ thinkingConfig: { thinkingLevel: 'low' } });
    expect(off3('gemini-3-flash-preview')).toEqual({
      thinkingConfig: { thinkingLevel: 'minimal' },
    });
  });

  it('sends images inline and URLs as file data', () => {
    const body = toGenerateContentRequest(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { kind: 'url', url: 'data:image/png;base64,iVBORw0K' } },
              { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
              {
                type: 'document',
                source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBERi0' },
              },
            ],
          },
        ],
      }),
    );
    expect(body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0K' } },
          { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.jpg' } },
          { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0' } },
        ],
      },
    ]);
  });
});
