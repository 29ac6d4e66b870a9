import { describe, expect, it } from 'vitest';
import { failurePolicy } from '../../routing/failure.ts';
import { classifyBedrockFailure } from './errors.ts';

const answer = (status: number, name: string, message = 'x', modelId?: string) =>
  classifyBedrockFailure({
    status,
    bodyText: JSON.stringify({ __type: name, message, ...(modelId && { modelId }) }),
    now: 0,
  });

describe('classifyBedrockFailure', () => {
  it('ThrottlingException is a retryable 429', () => {
    const f = answer(429, 'ThrottlingException', 'Too many requests');
    expect(f).toMatchObject({ kind: 'http-status', status: 429 });
    expect(failurePolicy(f)).toEqual({ retrySameChannel: true, failover: true });
  });

  it('ModelNotReadyException (sent as 429) and ServiceUnavailable are 503s that fail over', () => {
    for (const f of [
      answer(429, 'ModelNotReadyException'),
      answer(503, 'ServiceUnavailableException'),
    ]) {
      expect(f).toMatchObject({ kind: 'http-status', status: 503 });
      expect(failurePolicy(f).failover).toBe(true);
    }
  });

  it('AccessDeniedException names the model access to enable, and is not a missing model', () => {
    const f = answer(
      403,
      'AccessDeniedException',
      'User: arn:aws:sts::123456789012:assumed-role/r/i is not authorized',
      'anthropic.claude-sonnet-4-5-20250929-v1:0',
    );
    expect(f.kind).toBe('http-status');
    expect(f.status).toBe(403);
    expect(f.message).toContain('model anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(f.message).toContain('Model access');
    // The account and role in AWS's text never travel on.
    expect(JSON.stringify(f)).not.toContain('123456789012');
    expect(failurePolicy(f).failover).toBe(true);
  });

  it("ValidationException is the client's 400 with Bedrock's message", () => {
    const f = answer(400, 'ValidationException', 'max_tokens is too large');
    expect(f).toMatchObject({
      kind: 'http-status',
      status: 400,
      error: { message: 'max_tokens is too large', type: 'invalid_request_error' },
    });
    expect(failurePolicy(f).failover).toBe(false);
  });

  it("an unknown model id is a model fault, not the client's 400", () => {
    expect(
      answer(400, 'ValidationException', 'The provided model identifier is invalid.').kind,
    ).toBe('model');
    expect(answer(404, 'ResourceNotFoundException').kind).toBe('model');
  });

  it('refused credentials mark the channel as rejecting its key', () => {
    expect(answer(403, 'UnrecognizedClientException').kind).toBe('auth');
    expect(answer(403, 'ExpiredTokenException').kind).toBe('auth');
  });
});
