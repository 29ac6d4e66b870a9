/**
 * The floor under the relay: the least a Node relay on the same stack can do per request. A
 * Hono app on @hono/node-server that reads the body and sends it to the upstream with undici,
 * then returns the answer (a stream as it arrives, chunk by chunk): no auth, no quota, no usage
 * row, no log line, no failover, no timers.
 * `npm run bench` runs it on the relay's core with the relay's Node flags; the gap between it
 * and the relay is what the relay's features cost, the gap between it and the upstream is what
 * HTTP in and out of one Node process costs on this machine. Not shipped.
 *
 * Env: FLOOR_UPSTREAM (base URL ending in /v1), FLOOR_UPSTREAM_KEY. Prints `{"port":N}`.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';

const upstream = `${process.env.FLOOR_UPSTREAM}/chat/completions`;
const auth = `Bearer ${process.env.FLOOR_UPSTREAM_KEY}`;
const agent = new Agent({ connections: 1024 });

const app = new Hono();
app.post('/v1/chat/completions', async (c) => {
  const res = await request(upstream, {
    dispatcher: agent,
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: await c.req.text(),
  });
  const type = String(res.headers['content-type']);
  const body = type.startsWith('text/event-stream')
    ? (Readable.toWeb(res.body) as ReadableStream<Uint8Array>)
    : await res.body.text();
  return c.body(body, res.statusCode as 200, { 'content-type': type });
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
  process.stdout.write(`${JSON.stringify({ port: info.port })}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
