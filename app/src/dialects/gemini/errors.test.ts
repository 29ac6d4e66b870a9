import { ApiError } from '@google/genai';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../../errors.ts';
import { withGenai } from '../../../../test/fixtures/gemini-sse.ts';
import { geminiDialect } from './index.ts';

const err = (status: number, message = 'nope') =>
  new RelayError(status as ContentfulStatusCode, 'code', message);

describe('gemini errors', () => {
  it.each([
    [400, 'INVALID_ARGUMENT'],
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'NOT_FOUND'],
    [429, 'RESOURCE_EXHAUSTED'],
    [499, 'CANCELLED'],
    [500, 'INTERNAL'],
    [502, 'UNAVAILABLE'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
  ] as const)('answers %i as %s in Google’s shape', (status, name) => {
    expect(geminiDialect.errorBody(err(status), 'req_1')).toEqual({
      error: {
        code: status,
        message: 'nope',
        status: name,
        details: [{ '@type': 'type.googleapis.com/google.rpc.RequestInfo', requestId: 'req_1' }],
      },
    });
  });

  it('is what @google/genai turns into its ApiError with the status', async () => {
    const error = await withGenai(
      (res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(geminiDialect.errorBody(err(404, 'No such model.'), 'req_2')));
      },
      (genai) =>
        genai.models.generateContent({ model: 'm', contents: 'x' }).catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).message).toContain('No such model.');
  });
});
