import { describe, expect, it } from 'vitest';
import { attributeFailure } from '../../routing/attribution.ts';
import { failurePolicy } from '../../routing/failure.ts';
import { classifyGeminiErrorEvent, classifyGeminiFailure } from './errors.ts';

const body = (code: number, status: string, message: string, details: unknown[] = []) =>
  JSON.stringify({ error: { code, message, status, details } });
const info = (reason: string) => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
});
const classify = (status: number, bodyText: string, headers?: Record<string, string>) =>
  classifyGeminiFailure({
    status,
    bodyText,
    now: 0,
    ...(headers && { headers: new Headers(headers) }),
  });

describe('classifyGeminiFailure', () => {
  it('marks the key dead on a 400 API_KEY_INVALID, as Gemini answers a bad key', () => {
    const f = classify(
      400,
      body(400, 'INVALID_ARGUMENT', 'API key not valid.', [info('API_KEY_INVALID')]),
    );
    expect(f.kind).toBe('auth');
    expect(attributeFailure(f, false)).toBe('dead');
  });

  it('marks the key dead on a 401 and on a suspended project', () => {
    expect(classify(401, body(401, 'UNAUTHENTICATED', 'no')).kind).toBe('auth');
    expect(
      classify(403, body(403, 'PERMISSION_DENIED', 'suspended', [info('CONSUMER_SUSPENDED')])).kind,
    ).toBe('auth');
  });

  it('blames a 403 PERMISSION_DENIED on the model, never the key', () => {
    const f = classify(
      403,
      body(403, 'PERMISSION_DENIED', 'You do not have permission to access tunedModels/x.'),
    );
    expect(f.kind).toBe('model');
    expect(attributeFailure(f, false)).toBe('model');
    expect(failurePolicy(f)).toEqual({ retrySameChannel: false, failover: true });
  });

  it('does not trust a message that only quotes a key reason', () => {
    const f = classify(
      400,
      body(400, 'INVALID_ARGUMENT', 'Invalid value "API_KEY_INVALID" at contents[0]'),
    );
    expect(f.kind).toBe('http-status');
    expect(attributeFailure(f, false)).toBe('none');
    expect(f.error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('Invalid value'),
    });
  });

  it('retries a 429 RESOURCE_EXHAUSTED after its RetryInfo delay, and fails a 503 over', () => {
    const limited = classify(
      429,
      body(429, 'RESOURCE_EXHAUSTED', 'quota', [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' },
      ]),
    );
    expect(limited).toMatchObject({ kind: 'http-status', status: 429, retryAfterMs: 37_000 });
    expect(failurePolicy(limited).retrySameChannel).toBe(true);
    expect(
      classify(429, body(429, 'RESOURCE_EXHAUSTED', 'q'), { 'retry-after': '2' }).retryAfterMs,
    ).toBe(2000);
    const overloaded = classify(503, body(503, 'UNAVAILABLE', 'The model is overloaded.'));
    expect(overloaded).toMatchObject({ kind: 'http-status', status: 503 });
    expect(failurePolicy(overloaded)).toEqual({ retrySameChannel: true, failover: true });
  });

  it('reads a 404 as a model the channel does not have, and survives a body that is not JSON', () => {
    expect(classify(404, body(404, 'NOT_FOUND', 'models/x is not found')).kind).toBe('model');
    expect(classify(500, '<html>oops</html>')).toMatchObject({ kind: 'http-status', status: 500 });
  });

  it('reads an error object inside a stream as a broken answer', () => {
    expect(
      classifyGeminiErrorEvent({
        error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' },
      }),
    ).toMatchObject({
      kind: 'stream-error',
      error: { code: 'UNAVAILABLE', message: 'overloaded' },
    });
  });
});
