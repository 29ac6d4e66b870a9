import { describe, expect, it } from 'vitest';
import { failurePolicy, isRetryableStatus } from '../../../app/src/routing/failure.ts';
import { classifyTransportError } from '../../../app/src/routing/transport-error.ts';

describe('isRetryableStatus', () => {
  it.each([408, 409, 429, 500, 502, 503, 504, 529])('%i is retryable', (s) => {
    expect(isRetryableStatus(s)).toBe(true);
  });
  it.each([200, 400, 401, 402, 403, 404, 413, 422, 600])('%i is not', (s) => {
    expect(isRetryableStatus(s)).toBe(false);
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
  it('fails over without a same-channel retry when a channel refuses (403)', () => {
    expect(failurePolicy({ kind: 'http-status', status: 403 })).toEqual({
      retrySameChannel: false,
      failover: true,
    });
  });
  it('never retries or penalises an abort', () => {
    expect(failurePolicy({ kind: 'aborted' })).toEqual({
      retrySameChannel: false,
      failover: false,
    });
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
    expect(classifyTransportError(err, 'body', false)).toMatchObject({
      kind: 'connect',
      midResponse: true,
    });
  });
  it.each([
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'CERT_HAS_EXPIRED',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'ERR_SSL_WRONG_VERSION_NUMBER',
  ])('%s before the response: the channel cannot be reached', (code) => {
    expect(
      classifyTransportError(Object.assign(new Error('x'), { code }), 'headers', false),
    ).toEqual({
      kind: 'connect',
      message: `upstream connection failed (${code})`,
    });
  });
  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', undefined])(
    '%s before the response: the channel took the connection, then hung up',
    (code) => {
      expect(
        classifyTransportError(Object.assign(new Error('x'), { code }), 'headers', false),
      ).toMatchObject({
        kind: 'connect',
        reached: true,
      });
    },
  );
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
