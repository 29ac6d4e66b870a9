/**
 * A route that wrote its answer to Node's response itself (a stream) returns `answeredDirectly()`,
 * which @hono/node-server must leave alone: whether or not the adapter had already put its own
 * `Response` in place of the global one when the relay's modules were loaded.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { expect, it, vi } from 'vitest';

it('is left alone by the node adapter even when the relay is loaded after the adapter started', async () => {
  // As serve() does: the adapter replaces the global Response before the relay's code loads.
  getRequestListener(() => new Response('unused'));
  const { answeredDirectly } = await import('../../app/src/middleware/reply-headers.ts');
  const errors: unknown[] = [];
  // Where the adapter reports a response it could not write.
  const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
  const listener = getRequestListener(
    (_req, env) => {
      const outgoing = env.outgoing as ServerResponse;
      outgoing.writeHead(200, { 'content-type': 'text/event-stream' });
      outgoing.end('data: direct\n\n');
      return answeredDirectly();
    },
    { errorHandler: (e) => void errors.push(e) },
  );
  const server = createServer(
    (req, res) => void listener(req, res).catch((e: unknown) => errors.push(e)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('data: direct\n\n');
    }
    expect(errors).toEqual([]);
    expect(logged).not.toHaveBeenCalled();
  } finally {
    logged.mockRestore();
    server.closeAllConnections();
    server.close();
  }
});

it('reads as the adapter’s "already sent" headers would, through its shortcut', async () => {
  const { answeredDirectly } = await import('../../app/src/middleware/reply-headers.ts');
  const sent = answeredDirectly();
  const plain = new Headers(RESPONSE_ALREADY_SENT.headers);
  expect([...sent.headers]).toEqual([...plain]);
  expect([...plain]).toHaveLength(1);
  for (const name of ['x-hono-already-sent', 'X-Hono-Already-Sent', 'set-cookie', 'content-type'])
    expect(sent.headers.has(name)).toBe(plain.has(name));
  expect(sent.headers.get('x-hono-already-sent')).toBe(plain.get('x-hono-already-sent'));
  expect(sent.body).toBeNull();
});
