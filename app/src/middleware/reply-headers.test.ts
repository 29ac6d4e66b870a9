import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../errors.ts';
import { startTiming } from '../timing.ts';
import type { AppEnv, RequestRecord } from '../types.ts';
import { addReplyHeaders, answer, openReplyHeaders, stampReplyHeaders } from './reply-headers.ts';

/** An app whose requests open the relay's headers and stamp them as the edge middleware does. */
function app() {
  const a = new Hono<AppEnv>();
  a.use(async (c, next) => {
    c.set('record', { startedAt: Date.now(), ...startTiming() } as RequestRecord);
    openReplyHeaders(c, { 'x-request-id': 'req_1', vary: 'Origin' });
    await next();
    stampReplyHeaders(c);
  });
  a.get('/answer', (c) => {
    addReplyHeaders(c, { 'x-ratelimit-remaining-requests': '9' });
    return answer(c, '{"ok":true}', 200, { 'content-type': 'application/json', vary: 'Accept' });
  });
  a.get('/other', (c) => c.json({ ok: true }));
  a.get('/refused', (c) => {
    addReplyHeaders(c, { 'x-ratelimit-remaining-requests': '0' });
    throw new RelayError(429, 'rate_limit_exceeded', 'slow down');
  });
  a.onError((err, c) => c.json({ error: err.message }, 429));
  return a;
}

describe('the relay headers', () => {
  it('go on an answer whole, with its own, rate limits and timing, Vary from both sides', async () => {
    const res = await app().request('/answer');
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toBe('req_1');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(res.headers.get('vary')).toBe('Accept, Origin');
    expect(Number(res.headers.get('x-relay-overhead-ms'))).toBeGreaterThanOrEqual(0);
    expect(res.headers.get('server-timing')).toMatch(/^relay;dur=[\d.]+;.*upstream;dur=/);
  });

  it('are stamped on answers made any other way, an error included', async () => {
    for (const path of ['/other', '/refused']) {
      const res = await app().request(path);
      expect(res.headers.get('x-request-id')).toBe('req_1');
      expect(res.headers.get('vary')).toBe('Origin');
      expect(res.headers.get('server-timing')).toMatch(/^relay;dur=/);
    }
    const refused = await app().request('/refused');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
  });
});
