import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { RelayError } from '../../errors.ts';
import { wireEvents } from '../../../../test/fixtures/anthropic-sse.ts';
import { anthropicDialect } from './index.ts';

// 529 is not in Hono's list of statuses: an upstream's 529 reaches the relay as a number.
const err = (status: number, message = 'nope') =>
  new RelayError(status as ContentfulStatusCode, 'code', message);

describe('anthropic errors', () => {
  it.each([
    [400, 'invalid_request_error'],
    [413, 'invalid_request_error'],
    [401, 'authentication_error'],
    [402, 'billing_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [504, 'api_error'],
    [529, 'overloaded_error'],
  ] as const)('answers %i as %s in Anthropic’s shape', (status, type) => {
    expect(anthropicDialect.errorBody(err(status), 'req_1')).toEqual({
      type: 'error',
      error: { type, message: 'nope' },
      request_id: 'req_1',
    });
  });

  it('is what the official SDK turns into its error classes', async () => {
    const cases: [number, unknown][] = [
      [401, Anthropic.AuthenticationError],
      [404, Anthropic.NotFoundError],
      [429, Anthropic.RateLimitError],
      [400, Anthropic.BadRequestError],
    ];
    for (const [status, cls] of cases) {
      const client = new Anthropic({
        apiKey: 'k',
        baseURL: 'http://sdk.invalid',
        maxRetries: 0,
        fetch: async () =>
          Response.json(anthropicDialect.errorBody(err(status, 'why'), 'req_9'), { status }),
      });
      const error = await client.messages
        .create({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(cls as never);
      expect((error as { error: unknown }).error).toMatchObject({ error: { message: 'why' } });
    }
  });

  it('ends a stream with an error event the SDK raises, and no message_stop', async () => {
    const frame = anthropicDialect.streamError(err(529, 'Overloaded'), 'req_2');
    expect(wireEvents(frame)).toEqual([
      {
        event: 'error',
        data: {
          type: 'error',
          error: { type: 'overloaded_error', message: 'Overloaded' },
          request_id: 'req_2',
        },
      },
    ]);
    const client = new Anthropic({
      apiKey: 'k',
      baseURL: 'http://sdk.invalid',
      maxRetries: 0,
      fetch: async () => new Response(frame, { headers: { 'content-type': 'text/event-stream' } }),
    });
    const stream = client.messages.stream({
      model: 'm',
      max_tokens: 1,
      messages: [{ role: 'user', content: 'x' }],
    });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
  });

  it('beats with Anthropic’s own ping frame', () => {
    expect(anthropicDialect.heartbeat).toBe('event: ping\ndata: {"type": "ping"}\n\n');
  });
});
