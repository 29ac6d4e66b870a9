/**
 * The client's disconnect as the proxy follows it, through a real socket: a hang-up while the
 * answer is pending aborts, one before the proxy looked aborts at once, and a finished answer
 * never does. Without a socket (`app.request()`), the Request's own signal stands in.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AbortSource } from '../routing/cancel.ts';
import { clientGone } from './client-gone.ts';

let server: ServerType;
let port: number;
/** Each request's source, handed to the test as soon as the handler took it. */
const taken: Array<(source: AbortSource) => void> = [];
const nextSource = () => new Promise<AbortSource>((resolve) => taken.push(resolve));
/** Lets a handler go on (answer, or look only now). */
let release: () => void = () => {};

const app = new Hono();
// Looks first thing, then holds the answer until released.
app.get('/hold', async (c) => {
  const gone = clientGone(c);
  taken.shift()?.(gone);
  await new Promise<void>((resolve) => (release = resolve));
  return c.text('late');
});
// Looks only once released (as the proxy does after reading the body and holding quota).
app.get('/late', async (c) => {
  await new Promise<void>((resolve) => (release = resolve));
  taken.shift()?.(clientGone(c));
  return c.text('late');
});
// Answers at once; the source is kept to be checked after the answer.
app.get('/quick', (c) => {
  taken.shift()?.(clientGone(c));
  return c.text('quick');
});

beforeAll(async () => {
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function get(path: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return socket;
}

const aborted = (source: AbortSource) =>
  new Promise<unknown>((resolve) => {
    if (source.aborted) return resolve(source.reason);
    const check = setInterval(() => {
      if (!source.aborted) return;
      clearInterval(check);
      resolve(source.reason);
    }, 5);
  });

describe('clientGone', () => {
  it('aborts when the client hangs up while the answer is pending', async () => {
    const source = nextSource();
    const socket = await get('/hold');
    const gone = await source;
    expect(gone.aborted).toBe(false);
    socket.destroy();
    const reason = await aborted(gone);
    expect(reason).toBeInstanceOf(Error);
    release();
  });

  it('is aborted from the start when the client left before the proxy looked', async () => {
    const socket = await get('/late');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    // The server has seen the hang-up before the handler goes on.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const source = nextSource();
    release();
    expect((await source).aborted).toBe(true);
  });

  it('never aborts for an answer that was sent, when the connection closes after', async () => {
    const source = nextSource();
    const socket = await get('/quick');
    const gone = await source;
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString()));
    while (!got.includes('quick')) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = once(socket, 'close');
    socket.destroy();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gone.aborted).toBe(false);
  });

  it('is the Request’s own signal without a socket', async () => {
    const local = new Hono();
    let seen: AbortSource | undefined;
    local.get('/', (c) => {
      seen = clientGone(c);
      return c.text(seen === c.req.raw.signal ? 'same' : 'other');
    });
    const res = await local.request('/');
    expect(await res.text()).toBe('same');
    expect(seen).toBeInstanceOf(AbortSignal);
  });
});
