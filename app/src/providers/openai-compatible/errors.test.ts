import { describe, expect, it } from 'vitest';
import {
  classifyOpenAiFailure,
  classifyOpenAiStreamError,
  parseOpenAiErrorBody,
} from './errors.ts';

const now = Date.parse('2026-11-22T10:00:00Z');
const body = (error: Record<string, unknown>): string => JSON.stringify({ error });

describe('classifyOpenAiFailure', () => {
  it('keeps status, Retry-After and the upstream error for 429 rate limits', () => {
    const f = classifyOpenAiFailure({
      status: 429,
      headers: { 'retry-after': '2' },
      bodyText: body({
        message: 'Rate limit reached',
        type: 'requests',
        code: 'rate_limit_exceeded',
      }),
      now,
    });
    expect(f).toMatchObject({ kind: 'http-status', status: 429, retryAfterMs: 2000 });
    expect(f.error).toEqual({
      message: 'Rate limit reached',
      type: 'requests',
      code: 'rate_limit_exceeded',
      param: null,
    });
  });

  it('tells insufficient quota from rate limits', () => {
    const quota = body({
      message: 'You exceeded your current quota',
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    });
    expect(classifyOpenAiFailure({ status: 429, bodyText: quota, now }).kind).toBe(
      'insufficient-quota',
    );
    expect(
      classifyOpenAiFailure({
        status: 402,
        bodyText: '{"error":{"message":"Insufficient Balance"}}',
        now,
      }).kind,
    ).toBe('insufficient-quota');
    expect(classifyOpenAiFailure({ status: 402, now }).kind).toBe('insufficient-quota');
    expect(
      classifyOpenAiFailure({
        status: 403,
        bodyText: body({ message: 'Billing account is not active' }),
        now,
      }).kind,
    ).toBe('insufficient-quota');
  });

  it('maps 401, and a 4xx whose code says the key is bad, to auth', () => {
    expect(
      classifyOpenAiFailure({ status: 401, bodyText: body({ message: 'Incorrect API key' }), now })
        .kind,
    ).toBe('auth');
    expect(
      classifyOpenAiFailure({
        status: 403,
        bodyText: body({ message: 'Invalid Authentication', code: 'invalid_api_key' }),
        now,
      }).kind,
    ).toBe('auth');
    const suspended = JSON.stringify({
      error: {
        code: 403,
        message: "Permission denied: Consumer 'api_key:AIza-secret' has been suspended.",
        status: 'PERMISSION_DENIED',
        details: [{ reason: 'CONSUMER_SUSPENDED', domain: 'googleapis.com' }],
      },
    });
    expect(classifyOpenAiFailure({ status: 403, bodyText: suspended, now }).kind).toBe('auth');
  });

  it('a 403 for a model the project may not use is about the model, not the key', () => {
    const f = classifyOpenAiFailure({
      status: 403,
      bodyText: body({
        message: 'Project `proj_abc` does not have access to model `o3`',
        type: 'invalid_request_error',
        code: 'model_not_found',
      }),
      now,
    });
    expect(f).toMatchObject({ kind: 'model', status: 403 });
  });

  it('a bare 403 blames neither the key nor the model', () => {
    for (const bodyText of [
      'Forbidden',
      body({
        message: 'Country, region, or territory not supported',
        code: 'unsupported_country_region_territory',
      }),
    ]) {
      expect(classifyOpenAiFailure({ status: 403, bodyText, now })).toMatchObject({
        kind: 'http-status',
        status: 403,
      });
    }
  });

  it('never takes client text echoed in a 400 for a dead key or a missing model', () => {
    for (const echoed of [
      "Invalid value: 'api key invalid'. Supported values are: 'system', 'user'.",
      "Invalid value: 'model unknown'.",
    ]) {
      const f = classifyOpenAiFailure({
        status: 400,
        bodyText: body({ message: echoed, code: 'invalid_value', param: 'messages[0].role' }),
        now,
      });
      expect(f.kind).toBe('http-status');
    }
  });

  it("reads Gemini's bad-key 400 from its structured reason", () => {
    const gemini = JSON.stringify([
      {
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: 'API_KEY_INVALID',
              domain: 'googleapis.com',
            },
          ],
        },
      },
    ]);
    expect(classifyOpenAiFailure({ status: 400, bodyText: gemini, now }).kind).toBe('auth');
  });

  it('maps 404 and model-specific 400s to model, other 400s stay client errors', () => {
    expect(
      classifyOpenAiFailure({
        status: 404,
        bodyText: body({ message: 'The model `x` does not exist', code: 'model_not_found' }),
        now,
      }).kind,
    ).toBe('model');
    expect(
      classifyOpenAiFailure({ status: 400, bodyText: body({ message: 'Model Not Exist' }), now })
        .kind,
    ).toBe('model');
    expect(
      classifyOpenAiFailure({
        status: 400,
        bodyText: body({ message: 'bad', code: 'model_not_found' }),
        now,
      }).kind,
    ).toBe('model');
    const plain = classifyOpenAiFailure({
      status: 400,
      bodyText: body({ message: "'messages' is required", param: 'messages' }),
      now,
    });
    expect(plain).toMatchObject({ kind: 'http-status', status: 400 });
    // An ordinary 400 (http-status, not model or auth): routing passes it back to the client.
    expect(plain.error?.param).toBe('messages');
  });

  it('survives non-JSON bodies and bounds the message', () => {
    const f = classifyOpenAiFailure({ status: 502, bodyText: '<html>Bad Gateway</html>', now });
    expect(f).toMatchObject({ kind: 'http-status', status: 502 });
    expect(f.error).toBeUndefined();
    expect(parseOpenAiErrorBody(body({ message: 'x'.repeat(5000) }))?.message).toHaveLength(300);
  });
});

describe('classifyOpenAiStreamError', () => {
  it('reads the error object of a 200 stream', () => {
    const f = classifyOpenAiStreamError({
      error: { message: 'overloaded', type: 'server_error', code: null },
    });
    expect(f).toMatchObject({
      kind: 'stream-error',
      error: { message: 'overloaded', type: 'server_error' },
    });
    expect(
      classifyOpenAiStreamError({ error: { message: 'no money', code: 'insufficient_quota' } })
        .kind,
    ).toBe('insufficient-quota');
    expect(classifyOpenAiStreamError('garbage').kind).toBe('stream-error');
  });
});
