/**
 * A stream's body written straight to Node's response (NodeClientStream), over a real loopback
 * connection: what the client gets, when the bytes leave, and what a client that stops reading
 * or hangs up does to the writes.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientGone } from '../../app/src/proxy/client-stream.ts';
import { NodeClientStream } from '../../app/src/proxy/node-client-stream.ts';

const BIG = 'x'.repeat(64 * 1024);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let closeServer: (() => void) | undefined;
afterEach(() => closeServer?.());

/** A server whose one request is handed to `handle`; resolves with its port. */
async function serve(handle: (res: ServerResponse) => Promise<void>): Promise<number> {
  const server = createServer((_req, res) => void handle(res));
  // An idle keep-alive connection stays open for the test's length unless the relay closes it.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeServer = () => {
    server.closeAllConnections();
    server.close();
  };
  return (server.address() as AddressInfo).port;
}

/** A client that sends a request and reads nothing until told to. */
async function pausedClient(port: number, keepAlive = false): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.write(`GET / HTTP/1.1\r\nhost: t\r\n${keepAlive ? '' : 'connection: close\r\n'}\r\n`);
  return socket;
}

/**
 * Writes BIG until a write has to wait for room and still waits 200 ms later (the client's
 * kernel buffers are full, not just Node's); returns that write, still pending.
 */
async function fillUntilWaiting(
  sink: NodeClientStream,
  res: ServerResponse,
): Promise<{ pending: Promise<void> }> {
  for (let i = 0; i < 2_000; i++) {
    const write = sink.write(BIG);
    // Room left: it is done already, however slow the test machine.
    if (!res.writableNeedDrain) {
      await write;
      continue;
    }
    const done = await Promise.race([write.then(() => true), sleep(200).then(() => false)]);
    // Wrapped: an async function returning the promise itself would wait for it.
    if (!done) return { pending: write };
  }
  throw new Error('never waited for room');
}

describe('the SSE body written to a client through its socket', () => {
  it('sends the head and the writes, and ends the response on close', async () => {
    const port = await serve(async (res) => {
      const sink = new NodeClientStream(res, 1_000);
      sink.open(200, { 'content-type': 'text/event-stream', 'x-request-id': 'r1' });
      await sink.write('data: 1\n\n');
      await sink.write('data: 2\n\n');
      sink.close();
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-request-id')).toBe('r1');
    expect(await res.text()).toBe('data: 1\n\ndata: 2\n\n');
  });

  it('sends the head and the frames of one turn in one socket write, a later frame when it comes', async () => {
    const writes: number[] = [];
    const port = await serve(async (res) => {
      const socket = res.socket! as Socket & Record<'_write' | '_writev', (...a: never[]) => void>;
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method];
        socket[method] = function (this: Socket, ...args: never[]) {
          writes.push(socket.writableLength);
          return original.apply(this, args);
        };
      }
      const sink = new NodeClientStream(res, 1_000);
      // In a promise callback, as the relay's first frames come (from the upstream's parser).
      await null;
      sink.open(200, { 'content-type': 'text/event-stream' });
      await sink.write('data: role\n\n');
      await sink.write('data: first\n\n');
      const held = writes.length;
      await sleep(20);
      expect({ held, after: writes.length }).toEqual({ held: 0, after: 1 });
      await sink.write('data: later\n\n');
      await sleep(20);
      expect(writes).toHaveLength(2);
      sink.close();
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('data: role\n\ndata: first\n\ndata: later\n\n');
    expect(writes.length).toBeGreaterThanOrEqual(2);
  });

  it('gives up on a client that stops taking bytes: the connection is closed, later writes fail', async () => {
    let outcome: { error: unknown; writes: number; ms: number; after: unknown } | undefined;
    const port = await serve(async (res) => {
      const sink = new NodeClientStream(res, 100);
      sink.open(200, { 'content-type': 'text/event-stream' });
      const started = performance.now();
      let writes = 0;
      let error: unknown;
      try {
        for (; writes < 10_000; writes++) await sink.write(BIG);
      } catch (e) {
        error = e;
      }
      const after = await sink.write('more').catch((e: unknown) => e);
      outcome = { error, writes, ms: performance.now() - started, after };
    });
    // Kept alive: only the relay closing the connection ends it.
    const client = await pausedClient(port, true);
    const closed = once(client, 'close').then(() => 'closed');
    for (let i = 0; i < 100 && !outcome; i++) await sleep(50);
    // Reading what was buffered reaches the end: the connection was closed.
    client.resume();
    expect(await Promise.race([closed, sleep(3_000).then(() => 'still open')])).toBe('closed');
    expect(outcome!.error).toBeInstanceOf(ClientGone);
    expect(outcome!.after).toBeInstanceOf(ClientGone);
    // Loopback's socket buffers hold a few MiB: far fewer than all the writes were ever tried.
    expect(outcome!.writes).toBeLessThan(1_000);
    expect(outcome!.ms).toBeLessThan(5_000);
  });

  it('reports a client that left before the stream was opened at the first write', async () => {
    let result: Promise<unknown> | undefined;
    const port = await serve(async (res) => {
      await once(res, 'close');
      const sink = new NodeClientStream(res, 60_000);
      sink.open(200, { 'content-type': 'text/event-stream' });
      result = sink.write(': heartbeat\n\n').then(
        () => 'written',
        (e: unknown) => e,
      );
    });
    const client = await pausedClient(port);
    client.destroy();
    for (let i = 0; i < 40 && !result; i++) await sleep(50);
    const started = performance.now();
    expect(await result).toBeInstanceOf(ClientGone);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('tells a write waiting for room at once when the client hangs up', async () => {
    let ready!: () => void;
    const isWaiting = new Promise<void>((resolve) => (ready = resolve));
    let result!: Promise<unknown>;
    const port = await serve(async (res) => {
      const sink = new NodeClientStream(res, 60_000);
      sink.open(200, { 'content-type': 'text/event-stream' });
      const { pending } = await fillUntilWaiting(sink, res);
      result = pending.then(
        () => 'written',
        (e: unknown) => e,
      );
      ready();
    });
    const client = await pausedClient(port);
    await isWaiting;
    const started = performance.now();
    client.destroy();
    expect(await result).toBeInstanceOf(ClientGone);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('lets every write that waited for room go on once the client reads (a heartbeat beside content)', async () => {
    let release!: () => void;
    const bothWaiting = new Promise<void>((resolve) => (release = resolve));
    const port = await serve(async (res) => {
      const sink = new NodeClientStream(res, 5_000);
      sink.open(200, { 'content-type': 'text/event-stream' });
      const first = (await fillUntilWaiting(sink, res)).pending;
      const second = sink.write(': heartbeat\n\n');
      release();
      await Promise.all([first, second]);
      await sink.write('data: content\n\n');
      sink.close();
    });
    const client = await pausedClient(port);
    await bothWaiting;
    let tail = '';
    client.on('data', (d: Buffer) => (tail = (tail + d.toString('latin1')).slice(-200)));
    client.resume();
    await once(client, 'end');
    client.destroy();
    expect(tail).toContain(': heartbeat\n\n');
    expect(tail.indexOf('data: content')).toBeGreaterThan(tail.indexOf(': heartbeat'));
    expect(tail).toMatch(/0\r\n\r\n$/);
  });
});
