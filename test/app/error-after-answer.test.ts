/**
 * An answer the relay wrote to Node's response itself (a stream, or a proxied JSON answer) is
 * on its way before the handler returns. An error thrown after that (a temp file's cleanup, say)
 * can no longer turn into an error answer: it is logged, and the answer still arrives whole.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../../app/src/app.ts';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/logger.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';

/** Large enough that the socket has not taken all of it when the handler returns. */
const BODY = 'x'.repeat(8_000_000);

const logs: Array<{ msg?: string; err?: { message?: string } }> = [];
const store = new SqliteStore({ path: ':memory:' });
let server: ReturnType<typeof serve>;
let base: string;

beforeAll(async () => {
  const logger = createLogger({
    destination: new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line) logs.push(JSON.parse(line) as (typeof logs)[number]);
        cb();
      },
    }),
  });
  const app = createApp({ config: parseRelayConfig({}, {}), store, logger });
  // A route that answers as the proxy does, then fails as it returns.
  app.get('/answered-then-failed', (c) => {
    const outgoing = (c.env as { outgoing: ServerResponse }).outgoing;
    outgoing.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': String(BODY.length),
    });
    outgoing.end(BODY);
    throw new Error('cleanup failed after the answer');
  });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  store.close();
});

it('keeps the answer whole and logs the error, on a connection still good for the next request', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/answered-then-failed`);
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBe(BODY.length);
  }
  const errors = logs.filter((l) => l.msg === 'error after the answer was sent');
  expect(errors).toHaveLength(2);
  expect(errors[0]!.err?.message).toBe('cleanup failed after the answer');
  const health = await fetch(`${base}/healthz`);
  expect(health.status).toBe(200);
});
