import { describe, expect, it } from 'vitest';
import { RelayError } from '../../errors.ts';
import { parseGenerateContent, readChatRequest } from './request.ts';

const read = (body: unknown) => readChatRequest(parseGenerateContent(body), 'm', false);

describe('readChatRequest', () => {
  it('gives every call an id and every function response the id of the call it answers', () => {
    const { chat } = read({
      contents: [
        { role: 'user', parts: [{ text: 'Weather?' }] },
        {
          role: 'model',
          parts: [
            {
              functionCall: { name: 'get_weather', args: { city: 'Paris' } },
              thoughtSignature: 's1',
            },
            { functionCall: { name: 'get_weather', args: { city: 'Rome' } } },
            { functionCall: { id: 'own-id', name: 'get_time', args: {} } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { id: 'own-id', name: 'get_time', response: { output: '12:00' } } },
            { functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } },
            { functionResponse: { name: 'get_weather', response: { temp: 18 } } },
          ],
        },
      ],
    });
    const [, model, results] = chat.messages;
    expect(model!.content).toEqual([
      { type: 'thinking', text: '', signature: 's1' },
      { type: 'tool_call', id: 'call_gemini_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_call', id: 'call_gemini_2', name: 'get_weather', input: { city: 'Rome' } },
      { type: 'tool_call', id: 'own-id', name: 'get_time', input: {} },
    ]);
    expect(results!.content).toEqual([
      { type: 'tool_result', toolCallId: 'own-id', content: [{ type: 'text', text: '12:00' }] },
      {
        type: 'tool_result',
        toolCallId: 'call_gemini_1',
        content: [{ type: 'text', text: 'Sunny' }],
      },
      {
        type: 'tool_result',
        toolCallId: 'call_gemini_2',
        content: [{ type: 'text', text: '{"temp":18}' }],
      },
    ]);
  });

  it('reads Google’s stand-in signatures (Gemini CLI sends them on calls) as no signature', () => {
    const { chat } = read({
      contents: [
        { role: 'user', parts: [{ text: 'Read it.' }] },
        {
          role: 'model',
          parts: [
            {
              functionCall: { name: 'read_file', args: { file_path: '/a' } },
              thoughtSignature: 'skip_thought_signature_validator',
            },
          ],
        },
      ],
    });
    expect(chat.messages[1]!.content).toEqual([
      { type: 'tool_call', id: 'call_gemini_1', name: 'read_file', input: { file_path: '/a' } },
    ]);
  });

  it('opens a conversation that starts with the model with a user turn', () => {
    const { chat } = read({
      contents: [{ role: 'model', parts: [{ text: 'Hi, I am your agent.' }] }],
    });
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('reads the system instruction, tools, tool config and generation config, snake_case too', () => {
    const { chat, dropped } = read({
      system_instruction: { parts: [{ text: 'Be terse.' }] },
      contents: [
        { parts: [{ text: 'Hi' }, { inline_data: { mime_type: 'image/png', data: 'iVBOR' } }] },
      ],
      tools: [
        {
          function_declarations: [
            {
              name: 'f',
              description: 'F',
              parameters: { type: 'OBJECT', properties: { user_id: { type: 'STRING' } } },
            },
          ],
        },
        { googleSearch: {} },
      ],
      tool_config: { function_calling_config: { mode: 'ANY' } },
      generation_config: {
        max_output_tokens: 64,
        temperature: 0.1,
        stop_sequences: ['END'],
        response_mime_type: 'application/json',
        thinking_config: { thinking_budget: 2048, include_thoughts: true },
      },
    });
    expect(chat).toMatchObject({
      system: [{ type: 'text', text: 'Be terse.' }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi' },
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
          ],
        },
      ],
      tools: [
        {
          name: 'f',
          description: 'F',
          inputSchema: { type: 'object', properties: { user_id: { type: 'string' } } },
        },
      ],
      toolChoice: { type: 'required' },
      maxTokens: 64,
      temperature: 0.1,
      stop: ['END'],
      responseFormat: { type: 'json_object' },
      thinking: { enabled: true, budgetTokens: 2048 },
    });
    expect(dropped).toEqual(['tool googleSearch']);
  });

  it('rewrites OpenAPI schemas (responseSchema, parameters) as the JSON Schema other upstreams take', () => {
    const openApi = {
      type: 'OBJECT',
      properties: {
        name: { type: 'STRING', nullable: true },
        kind: { type: 'STRING', format: 'enum', enum: ['a', 'b'], nullable: true },
        tags: { type: 'ARRAY', items: { type: 'STRING' } },
        either: { anyOf: [{ type: 'INTEGER' }, { type: 'BOOLEAN' }], nullable: true },
      },
      required: ['name'],
    };
    const jsonSchema = {
      type: 'object',
      properties: {
        name: { type: ['string', 'null'] },
        kind: { type: ['string', 'null'], enum: ['a', 'b', null] },
        tags: { type: 'array', items: { type: 'string' } },
        either: { anyOf: [{ type: 'integer' }, { type: 'boolean' }, { type: 'null' }] },
      },
      required: ['name'],
    };
    const { chat } = read({
      contents: [{ parts: [{ text: 'Hi' }] }],
      tools: [{ functionDeclarations: [{ name: 'f', parameters: openApi }] }],
      generationConfig: { responseMimeType: 'application/json', responseSchema: openApi },
    });
    expect(chat.responseFormat).toEqual({ type: 'json_schema', schema: jsonSchema });
    expect(chat.tools[0]!.inputSchema).toEqual(jsonSchema);
    // JSON Schema fields are JSON Schema already: passed on as they came.
    const own = { type: 'object', properties: { n: { type: 'string', nullable: true } } };
    const second = read({
      contents: [{ parts: [{ text: 'Hi' }] }],
      tools: [{ functionDeclarations: [{ name: 'f', parametersJsonSchema: own }] }],
      generationConfig: { responseMimeType: 'application/json', responseJsonSchema: own },
    }).chat;
    expect(second.responseFormat).toEqual({ type: 'json_schema', schema: own });
    expect(second.tools[0]!.inputSchema).toEqual(own);
  });

  it('refuses a body without contents with a 400 naming the field', () => {
    const error = (() => {
      try {
        parseGenerateContent({ contents: [{ role: 'user', parts: 'x' }] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({ status: 400, param: 'contents.0.parts' });
  });
});
