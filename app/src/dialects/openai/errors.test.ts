import { describe, expect, it } from 'vitest';
import { RelayError } from '../../errors.ts';
import { openAiErrorBody, openAiStreamError } from './errors.ts';

describe('OpenAI error shapes', () => {
  const error = new RelayError(429, 'rate_limit_exceeded', 'Slow down.', { param: null });

  it('is the contract body, request id included', () => {
    expect(openAiErrorBody(error, 'req_1')).toEqual({
      error: {
        message: 'Slow down.',
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        param: null,
      },
      request_id: 'req_1',
    });
  });

  it('ends a stream as a data event carrying the same body, and no [DONE]', () => {
    const frame = openAiStreamError(error, 'req_1');
    expect(frame.startsWith('data: ')).toBe(true);
    expect(frame.endsWith('\n\n')).toBe(true);
    expect(JSON.parse(frame.slice(6))).toEqual(openAiErrorBody(error, 'req_1'));
    expect(frame).not.toContain('[DONE]');
  });
});
