import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AppEnv } from '../types.ts';
import { corsHeaders } from './cors.ts';

const EXPOSE = ['x-request-id', 'server-timing'];

function appFor(origins: string[]) {
  const app = new Hono<AppEnv>();
  app.use(
    corsHeaders({ origins, allowMethods: ['GET', 'POST'], exposeHeaders: EXPOSE, maxAge: 60 }),
  );
  app.get('/json', (c) => c.json({ ok: true }));
  app.post('/json', (c) => c.json({ ok: true }));
  app.get('/raw', () => new Response('raw body', { headers: { 'x-own': 'kept' } }));
  app.get('/stream', (c) =>
    c.body(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('data: 1\n\n'));
          controller.close();
        },
      }),
      200,
      { 'content-type': 'text/event-stream' },
    ),
  );
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.onError((_err, c) => c.json({ error: 'failed' }, 500));
  return app;
}

describe('CORS headers', () => {
  it('go on every kind of answer, with any origin allowed', async () => {
    const app = appFor(['*']);
    for (const path of ['/json', '/raw', '/stream', '/boom']) {
      const res = await app.request(path, { headers: { origin: 'https://chat.example.com' } });
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(res.headers.get('access-control-expose-headers'), path).toBe(EXPOSE.join(','));
      expect(res.headers.get('vary'), path).toBeNull();
    }
    const raw = await app.request('/raw');
    expect(raw.headers.get('x-own')).toBe('kept');
    expect(await raw.text()).toBe('raw body');
    expect(await (await app.request('/stream')).text()).toBe('data: 1\n\n');
  });

  it('echo a listed origin only, and say the answer varies by origin', async () => {
    const app = appFor(['https://ok.example.com']);
    const ok = await app.request('/json', { headers: { origin: 'https://ok.example.com' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://ok.example.com');
    expect(ok.headers.get('vary')).toBe('Origin');
    const other = await app.request('/json', { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toBe('Origin');
    expect(await other.json()).toEqual({ ok: true });
  });

  it('stay off a POST without an Origin (no browser sent it), and on a GET without one', async () => {
    for (const origins of [['*'], ['https://ok.example.com']]) {
      const app = appFor(origins);
      const server = await app.request('/json', { method: 'POST' });
      expect(server.status).toBe(200);
      expect(await server.json()).toEqual({ ok: true });
      for (const name of ['access-control-allow-origin', 'access-control-expose-headers', 'vary'])
        expect(server.headers.get(name), `${origins[0]} ${name}`).toBeNull();
      const browser = await app.request('/json', {
        method: 'POST',
        headers: { origin: 'https://ok.example.com' },
      });
      expect(browser.headers.get('access-control-allow-origin')).toBe(origins[0]);
      expect(browser.headers.get('access-control-expose-headers')).toBe(EXPOSE.join(','));
      const get = await app.request('/json');
      expect(get.headers.get('access-control-expose-headers')).toBe(EXPOSE.join(','));
    }
  });

  it('answer a preflight without reaching the handler', async () => {
    const res = await appFor(['*']).request('/json', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://chat.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-stainless-os',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('x-stainless-os');
    expect(res.headers.get('access-control-max-age')).toBe('60');
  });
});
