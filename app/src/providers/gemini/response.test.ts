import { describe, expect, it } from 'vitest';
import { readGenerateContent } from './response.ts';

const answer = (candidate: Record<string, unknown>, usage: Record<string, unknown>) => ({
  candidates: [{ index: 0, ...candidate }],
  usageMetadata: { promptTokenCount: 7, ...usage },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'r1',
});

describe('readGenerateContent', () => {
  it('fails over a candidate that ended on a broken function call and wrote nothing', () => {
    for (const finishReason of ['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL'])
      expect(
        readGenerateContent(
          answer({ finishReason, finishMessage: 'Malformed function call' }, {}),
          true,
        ).failure,
      ).toMatchObject({ kind: 'malformed', message: expect.stringContaining(finishReason) });
  });

  it('counts answer tokens, not thoughts, to tell an empty STOP', () => {
    const empty = answer(
      { content: { role: 'model', parts: [] }, finishReason: 'STOP' },
      { candidatesTokenCount: 0, thoughtsTokenCount: 40 },
    );
    expect(readGenerateContent(empty, true).failure).toMatchObject({ kind: 'malformed' });
    expect(readGenerateContent(empty, false).failure).toMatchObject({ kind: 'malformed' });
  });

  it('keeps answers that said something, whatever the finish reason', () => {
    const read = readGenerateContent(
      answer(
        { content: { role: 'model', parts: [{ text: 'Partly.' }] }, finishReason: 'OTHER' },
        { candidatesTokenCount: 2 },
      ),
      true,
    );
    expect(read.failure).toBeUndefined();
    expect(read.response).toMatchObject({
      content: [{ type: 'text', text: 'Partly.' }],
      stopReason: 'end_turn',
    });
  });
});
