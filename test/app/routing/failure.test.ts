import { describe, expect, it } from 'vitest';
import {
  classifyHttpFailure,
  classifyStreamError,
  failurePolicy,
  isRetryableStatus,
  parseUpstreamErrorBody,
} from '../../../app/src/routing/failure.ts';
import { classifyTransportError } from '../../../app/src/routing/upstream-client.ts';

const now = Date.parse('2026-11-22T10:00:00Z');
const body = (error: Record<string, unknown>): string => JSON.stringify({ error });

describe('isRetryableStatus', () => {
  it.each([408, 409, 429, 500, 502, 503, 504, 529])('%i is retryable', (s) => {
    expect(isRetryableStatus(s)).toBe(true);
  });
  it.each([200, 400, 401, 402, 403, 404, 413, 422, 600])('%i is not', (s) => {
    expect(isRetryableStatus(s)).toBe(false);
  });
});

describe('classifyHttpFailure', () => {
  it('keeps status, Retry-After and the upstream error for 429 rate limits', () => {
    const f = classifyHttpFailure({
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
    expect(classifyHttpFailure({ status: 429, bodyText: quota, now }).kind).toBe(
      'insufficient-quota',
    );
    expect(
      classifyHttpFailure({
        status: 402,
        bodyText: '{"error":{"message":"Insufficient Balance"}}',
        now,
      }).kind,
    ).toBe('insufficient-quota');
    expect(classifyHttpFailure({ status: 402, now }).kind).toBe('insufficient-quota');
    expect(
      classifyHttpFailure({
        status: 403,
        bodyText: body({ message: 'Billing account is not active' }),
        now,
      }).kind,
    ).toBe('insufficient-quota');
  });

  it('maps 401 and plain 403 to auth', () => {
    expect(
      classifyHttpFailure({ status: 401, bodyText: body({ message: 'Incorrect API key' }), now })
        .kind,
    ).toBe('auth');
    expect(classifyHttpFailure({ status: 403, bodyText: 'Forbidden', now }).kind).toBe('auth');
  });

  it('never takes client text echoed in a 400 for a dead key or a missing model', () => {
    for (const echoed of [
      "Invalid value: 'api key invalid'. Supported values are: 'system', 'user'.",
      "Invalid value: 'model unknown'.",
    ]) {
      const f = classifyHttpFailure({
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
    expect(classifyHttpFailure({ status: 400, bodyText: gemini, now }).kind).toBe('auth');
  });

  it('maps 404 and model-specific 400s to model, other 400s stay client errors', () => {
    expect(
      classifyHttpFailure({
        status: 404,
        bodyText: body({ message: 'The model `x` does not exist', code: 'model_not_found' }),
        now,
      }).kind,
    ).toBe('model');
    expect(
      classifyHttpFailure({ status: 400, bodyText: body({ message: 'Model Not Exist' }), now })
        .kind,
    ).toBe('model');
    expect(
      classifyHttpFailure({
        status: 400,
        bodyText: body({ message: 'bad', code: 'model_not_found' }),
        now,
      }).kind,
    ).toBe('model');
    const plain = classifyHttpFailure({
      status: 400,
      bodyText: body({ message: "'messages' is required", param: 'messages' }),
      now,
    });
    expect(plain).toMatchObject({ kind: 'http-status', status: 400 });
    expect(plain.error?.param).toBe('messages');
    expect(failurePolicy(plain)).toEqual({ retrySameChannel: false, failover: false });
  });

  it('survives non-JSON bodies and bounds the message', () => {
    const f = classifyHttpFailure({ status: 502, bodyText: '<html>Bad Gateway</html>', now });
    expect(f).toMatchObject({ kind: 'http-status', status: 502 });
    expect(f.error).toBeUndefined();
    expect(parseUpstreamErrorBody(body({ message: 'x'.repeat(5000) }))?.message).toHaveLength(300);
  });
});

describe('failurePolicy', () => {
  it('retries transient failures on the same channel', () => {
    expect(failurePolicy({ kind: 'http-status', status: 503 }).retrySameChannel).toBe(true);
    expect(failurePolicy({ kind: 'connect' }).retrySameChannel).toBe(true);
  });
  it('fails over without a same-channel retry after a silent or broken channel', () => {
    for (const kind of [
      'timeout-first-byte',
      'timeout-idle',
      'malformed',
      'stream-error',
    ] as const) {
      expect(failurePolicy({ kind })).toEqual({ retrySameChannel: false, failover: true });
    }
  });
  it('fails over at once when the key, the account or the model is wrong on the channel', () => {
    for (const kind of ['auth', 'insufficient-quota', 'model'] as const) {
      expect(failurePolicy({ kind })).toEqual({ retrySameChannel: false, failover: true });
    }
  });
  it('never retries or penalises an abort', () => {
    expect(failurePolicy({ kind: 'aborted' })).toEqual({
      retrySameChannel: false,
      failover: false,
    });
  });
});

describe('classifyStreamError', () => {
  it('reads the error object of a 200 stream', () => {
    const f = classifyStreamError({
      error: { message: 'overloaded', type: 'server_error', code: null },
    });
    expect(f).toMatchObject({
      kind: 'stream-error',
      error: { message: 'overloaded', type: 'server_error' },
    });
    expect(
      classifyStreamError({ error: { message: 'no money', code: 'insufficient_quota' } }).kind,
    ).toBe('insufficient-quota');
    expect(classifyStreamError('garbage').kind).toBe('stream-error');
  });
});

describe('classifyTransportError', () => {
  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout-connect'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout-first-byte'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout-idle'],
    ['UND_ERR_SOCKET', 'connect'],
    ['ECONNREFUSED', 'connect'],
    ['HPE_INVALID_CHUNK_SIZE', 'malformed'],
    ['UND_ERR_ABORTED', 'aborted'],
  ])('%s → %s', (code, kind) => {
    expect(
      classifyTransportError(Object.assign(new Error('x'), { code }), 'body', false).kind,
    ).toBe(kind);
  });
  it('tells a connection that dropped mid-response from one that never answered', () => {
    const err = Object.assign(new Error('x'), { code: 'ECONNRESET' });
    expect(classifyTransportError(err, 'headers', false)).toEqual({
      kind: 'connect',
      message: 'upstream connection failed (ECONNRESET)',
    });
    expect(classifyTransportError(err, 'body', false)).toMatchObject({
      kind: 'connect',
      midResponse: true,
    });
  });
  it('an aborted signal wins over whatever error the abort caused', () => {
    expect(
      classifyTransportError(
        Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }),
        'body',
        true,
      ).kind,
    ).toBe('aborted');
  });
});
