import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInflightTracker } from '../inflight.ts';
import { createLogger } from '../logger.ts';
import { loggedRequestMetrics } from '../metrics/request-metrics.ts';
import type { AppEnv } from '../types.ts';
import { accessLog } from './access-log.ts';

/** An app whose every request goes through the access log, as the edge middleware drives it. */
function appWith(write: (line: string) => void) {
  const logger = createLogger({ destination: { write } });
  const inflight = createInflightTracker();
  const log = accessLog(logger, Date.now, loggedRequestMetrics(logger), inflight);
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set('requestId', 'req_test');
    const end = log.begin(c);
    try {
      await next();
    } finally {
      end();
    }
  });
  app.get('/json', (c) => c.text('ok'));
  // A stream's line is written when the stream is over (record.done), after the handler returned.
  app.get('/stream', (c) => {
    c.get('record').done = Promise.resolve();
    return c.text('streamed');
  });
  return { app, inflight };
}

describe('the access log with a writer that throws', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  const diskFull = () => {
    throw new Error('ENOSPC: no space left on device');
  };

  it('answers a JSON request as if nothing happened and lets it leave the in-flight count', async () => {
    const { app, inflight } = appWith(diskFull);
    const res = await app.request('/json');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(await inflight.drain(1_000)).toBe(true);
  });

  it('turns no stream end into an unhandled rejection, and lets it leave the in-flight count', async () => {
    const { app, inflight } = appWith(diskFull);
    const res = await app.request('/stream');
    expect(await res.text()).toBe('streamed');
    expect(await inflight.drain(1_000)).toBe(true);
    // Unhandled rejections are reported after a macrotask turn.
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(unhandled).toEqual([]);
  });

  it('writes the line as usual when the writer works', async () => {
    const lines: string[] = [];
    const { app } = appWith((line) => lines.push(line));
    await app.request('/stream');
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(lines[0]!)).toMatchObject({ requestId: 'req_test', path: '/stream' });
  });
});

describe('the access line of a JSON answer through a socket', () => {
  it('is written once the answer is out', async () => {
    // What the answer's Node response had done when each line was written.
    const seen: Array<{ path: string; answerEnded: boolean | undefined }> = [];
    let outgoing: ServerResponse | undefined;
    const { app, inflight } = appWith((line) =>
      seen.push({
        path: (JSON.parse(line) as { path: string }).path,
        answerEnded: outgoing?.writableEnded,
      }),
    );
    const server = serve({
      fetch: (req, env) => {
        outgoing = env.outgoing as ServerResponse;
        return app.fetch(req, env);
      },
      port: 0,
      hostname: '127.0.0.1',
    });
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/json`);
      expect(await res.text()).toBe('ok');
      expect(seen).toEqual([{ path: '/json', answerEnded: true }]);
      expect(await inflight.drain(1_000)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
