import { describe, expect, it } from 'vitest';
import { classifyAnthropicErrorEvent, classifyAnthropicFailure } from './errors.ts';

const NOW = Date.UTC(2026, 0, 1);

const body = (type: string, message: string) =>
  JSON.stringify({
    type: 'error',
    error: { type, message },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  });

const classify = (
  status: number,
  type: string,
  message: string,
  headers?: Record<string, string>,
) =>
  classifyAnthropicFailure({
    status,
    bodyText: body(type, message),
    now: NOW,
    ...(headers && { headers }),
  });

describe('classifyAnthropicFailure', () => {
  it('marks a refused key as auth, whatever status carries it', () => {
    expect(classify(401, 'authentication_error', 'invalid x-api-key').kind).toBe('auth');
    expect(classify(400, 'authentication_error', 'invalid x-api-key').kind).toBe('auth');
  });

  it('a permission_error is a refusal of this request, not a dead key', () => {
    expect(
      classify(
        403,
        'permission_error',
        'Your API key does not have permission to use the specified resource.',
      ),
    ).toMatchObject({ kind: 'http-status', status: 403 });
    expect(classify(403, 'permission_error', 'model: claude-opus-4-1').kind).toBe('model');
  });

  it('marks an unknown model as model', () => {
    expect(classify(404, 'not_found_error', 'model: claude-3-opus-2099').kind).toBe('model');
    expect(classify(400, 'invalid_request_error', 'model: claude-nope is not supported').kind).toBe(
      'model',
    );
  });

  it('marks a spent balance as insufficient-quota, though Anthropic sends it as a 400', () => {
    const failure = classify(
      400,
      'invalid_request_error',
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
    );
    expect(failure.kind).toBe('insufficient-quota');
    expect(classify(402, 'billing_error', 'Payment required').kind).toBe('insufficient-quota');
  });

  it('keeps rate limits and overload retryable statuses, with the upstream’s retry-after', () => {
    expect(classify(429, 'rate_limit_error', 'slow down', { 'retry-after': '7' })).toMatchObject({
      kind: 'http-status',
      status: 429,
      retryAfterMs: 7000,
      error: { type: 'rate_limit_error', message: 'slow down' },
    });
    expect(classify(529, 'overloaded_error', 'Overloaded')).toMatchObject({
      kind: 'http-status',
      status: 529,
    });
  });

  it('leaves other invalid requests as client errors, even when their text echoes the client', () => {
    const failure = classify(
      400,
      'invalid_request_error',
      'messages.0: the model said billing is fine',
    );
    expect(failure).toMatchObject({ kind: 'http-status', status: 400 });
    expect(failure.error?.message).toBe('messages.0: the model said billing is fine');
  });

  it('copes with a body that is not Anthropic’s', () => {
    expect(
      classifyAnthropicFailure({ status: 502, bodyText: '<html>Bad gateway</html>', now: NOW }),
    ).toMatchObject({
      kind: 'http-status',
      status: 502,
    });
  });
});

describe('classifyAnthropicErrorEvent', () => {
  it('makes an overloaded event inside a stream a stream-error, and a billing one a quota failure', () => {
    expect(
      classifyAnthropicErrorEvent({
        type: 'error',
        error: { type: 'overloaded_error', message: 'Overloaded' },
      }),
    ).toMatchObject({
      kind: 'stream-error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    expect(
      classifyAnthropicErrorEvent({
        type: 'error',
        error: { type: 'billing_error', message: 'No credit' },
      }).kind,
    ).toBe('insufficient-quota');
  });
});
