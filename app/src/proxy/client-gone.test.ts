/**
 * The client's disconnect as the proxy follows it, through a real socket: a hang-up while the
 * answer is pending aborts, one before the proxy looked aborts at once, and a finished answer
 * never does. Without a socket (`app.request()`), the Request's own signal stands in.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { follow } from '../routing/cancel.ts';
import type { AbortSource } from '../routing/cancel.ts';
import { clientGone } from './client-gone.ts';

/** What a handler hands the test: Node's response, and the source once it has looked. */
interface Seen {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
  readonly source: Promise<AbortSource>;
}

let server: ServerType;
let port: number;
const seen: Array<(s: Seen) => void> = [];
const nextRequest = () => new Promise<Seen>((resolve) => seen.push(resolve));
/** Lets the handler of the request in hand go on. */
let release: () => void = () => {};

const app = new Hono<{ Bindings: { incoming: IncomingMessage; outgoing: ServerResponse } }>();
// Looks first thing (`/hold`), after reading the request to its end (`/read`), or only once
// released (`/late`, as the proxy may after holding quota); answers once released.
app.get('/:when', async (c) => {
  let look!: (source: AbortSource) => void;
  seen.shift()?.({
    incoming: c.env.incoming,
    outgoing: c.env.outgoing,
    source: new Promise<AbortSource>((resolve) => (look = resolve)),
  });
  // As the relay looks after reading the body: Node no longer errors a request it has ended.
  if (c.req.param('when') === 'read') {
    c.env.incoming.resume();
    if (!c.env.incoming.readableEnded) await once(c.env.incoming, 'end');
  }
  if (c.req.param('when') !== 'late') look(clientGone(c));
  await new Promise<void>((resolve) => (release = resolve));
  if (c.req.param('when') === 'late') look(clientGone(c));
  return c.text('answered');
});

beforeAll(async () => {
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function get(path: string): Promise<{ socket: Socket; request: Seen }> {
  const request = nextRequest();
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return { socket, request: await request };
}

const abortedWith = (source: AbortSource) =>
  new Promise<unknown>((resolve) => {
    if (source.aborted) resolve(source.reason);
    else follow(source, () => resolve(source.reason));
  });

describe('clientGone', () => {
  it('aborts when the client hangs up while the answer is pending', async () => {
    const { socket, request } = await get('/hold');
    const source = await request.source;
    expect(source.aborted).toBe(false);
    socket.destroy();
    // Node's own error for the request cut short is the reason, as the adapter gives it.
    const reason = await abortedWith(source);
    expect(reason).toBe(request.incoming.errored);
    expect(reason).toBeInstanceOf(Error);
    release();
  });

  it('aborts when the relay cuts the answer itself (a client that stopped reading)', async () => {
    const { socket, request } = await get('/read');
    const source = await request.source;
    request.outgoing.destroy();
    const reason = await abortedWith(source);
    expect(request.incoming.errored).toBeFalsy();
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('AbortError');
    socket.destroy();
    release();
  });

  it('is aborted from the start when the client left before the proxy looked', async () => {
    const { socket, request } = await get('/late');
    socket.destroy();
    await once(request.outgoing, 'close');
    release();
    expect((await request.source).aborted).toBe(true);
  });

  it('never aborts for an answer that was sent, when the connection closes after', async () => {
    const { socket, request } = await get('/hold');
    const source = await request.source;
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    // Node closes a response once it has finished, the connection kept alive or not.
    const closed = once(request.outgoing, 'close');
    release();
    await closed;
    while (!got.includes('answered')) await new Promise((resolve) => setImmediate(resolve));
    socket.destroy();
    await once(socket, 'close');
    expect(request.outgoing.writableFinished).toBe(true);
    expect(source.aborted).toBe(false);
  });

  it('is the Request’s own signal without a socket', async () => {
    const local = new Hono();
    let source: AbortSource | undefined;
    local.get('/', (c) => {
      source = clientGone(c);
      return c.text(source === c.req.raw.signal ? 'same' : 'other');
    });
    const res = await local.request('/');
    expect(await res.text()).toBe('same');
    expect(source).toBeInstanceOf(AbortSignal);
  });
});
