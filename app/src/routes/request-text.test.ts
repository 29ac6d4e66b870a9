import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferedBody, requestText } from './request-text.ts';

/** Lets Node's parser take in what has arrived (as a handler that awaits something first). */
const parsed = () => new Promise<void>((resolve) => setImmediate(resolve));

let server: ServerType;
let port: number;

beforeAll(async () => {
  const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
  // What the fast path saw, then what the adapter's own text() says for the same request.
  app.post('/buffered', async (c) => {
    await parsed();
    const early = bufferedBody(c.env.incoming);
    return c.json({ early: early ?? null, text: early ?? (await c.req.text()) });
  });
  // Read first thing, in the handler's synchronous start, as the relay reads it when the key and
  // the hold are decided at once: Node's parser has not yet pushed the packet's body. How often
  // the adapter's own text() had to read it is counted.
  app.post('/first', async (c) => {
    const adapter = c.req.text.bind(c.req);
    let adapterReads = 0;
    c.req.text = () => {
      adapterReads++;
      return adapter();
    };
    const text = await requestText(c);
    await parsed();
    return c.json({ text, adapterReads, ended: c.env.incoming.readableEnded });
  });
  // Read a few awaits in (a key looked up in the store, say): the body is in, but the parser has
  // not yet seen the message's end (that comes a turn later, where `parsed` waits).
  app.post('/text', async (c) => {
    await Promise.resolve();
    const read = requestText(c);
    // A string when it was all there: the caller goes on in the same turn.
    const atOnce = typeof read === 'string';
    const text = await read;
    const again = await c.req.text();
    const json = (await c.req.json()) as unknown;
    await parsed();
    // Read to its end, so the adapter has nothing to drain after the answer.
    return c.json({ text, again, json, ended: c.env.incoming.readableEnded, atOnce });
  });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `parts` as separate writes `gapMs` apart on one connection; resolves with all it got. */
async function exchange(parts: Array<string | Buffer>, gapMs = 0): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
  const ended = once(socket, 'end');
  for (const [i, part] of parts.entries()) {
    if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    socket.write(part);
  }
  await ended;
  socket.destroy();
  return got;
}

const head = (path: string, length: number | 'chunked', close = true) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`) +
  (close ? 'Connection: close\r\n' : '') +
  '\r\n';

const answers = (raw: string): unknown[] =>
  raw
    .split('HTTP/1.1 ')
    .slice(1)
    .map((r) => JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4).split('HTTP/1.1')[0]!) as unknown);

describe('requestText: the body as text, read at once when Node already holds it', () => {
  it('takes a body that came with its headers from the buffer, as the adapter would decode it', async () => {
    // A BOM, two-byte and four-byte characters, and an invalid byte (replaced, not thrown).
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"q":"café 🦜 ', 'utf8'),
      Buffer.from([0xff]),
      Buffer.from('"}', 'utf8'),
    ]);
    const raw = await exchange([
      Buffer.concat([Buffer.from(head('/buffered', body.length)), body]),
    ]);
    const [answer] = answers(raw) as Array<{ early: string | null; text: string }>;
    expect(answer!.early).toBe('{"q":"café 🦜 \ufffd"}');
    // The adapter's own decoding of the same bytes, from a request that was not read early.
    const [plain] = answers(await exchange([head('/buffered', body.length), body], 30)) as Array<{
      early: string | null;
      text: string;
    }>;
    expect(plain!.early).toBeNull();
    expect(plain!.text).toBe(answer!.early);
  });

  it('leaves a body still on its way to the adapter, which waits for the rest', async () => {
    const body = '{"model":"m","messages":[]}';
    const raw = await exchange([head('/text', body.length), body.slice(0, 9), body.slice(9)], 30);
    expect(answers(raw)).toEqual([
      { text: body, again: body, json: JSON.parse(body), ended: true, atOnce: false },
    ]);
    // Part of it in with the headers: buffered, but not all that Content-Length declares.
    const partly = await exchange(
      [head('/text', body.length) + body.slice(0, 9), body.slice(9)],
      30,
    );
    expect(answers(partly)).toEqual([
      { text: body, again: body, json: JSON.parse(body), ended: true, atOnce: false },
    ]);
  });

  it('never reads a chunked body early (the body limit counts it as it streams)', async () => {
    const body = '{"a":1}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const raw = await exchange([head('/buffered', 'chunked') + chunked]);
    expect(answers(raw)).toEqual([{ early: null, text: body }]);
  });

  it("takes the body from the buffer when it is read in the handler's first turn", async () => {
    const body = '{"model":"m","messages":[]}';
    const raw = await exchange([head('/first', body.length) + body]);
    expect(answers(raw)).toEqual([{ text: body, adapterReads: 0, ended: true }]);
    // A body still on its way after that turn is the adapter's to read.
    const split = await exchange([head('/first', body.length), body], 30);
    expect(answers(split)).toEqual([{ text: body, adapterReads: 1, ended: true }]);
  });

  it("answers the request's later text() and json() from Hono's cache", async () => {
    const body = '{"model":"m","n":2}';
    const raw = await exchange([head('/text', body.length) + body]);
    expect(answers(raw)).toEqual([
      { text: body, again: body, json: { model: 'm', n: 2 }, ended: true, atOnce: true },
    ]);
  });

  it('leaves the connection ready for the next request (keep-alive)', async () => {
    const first = '{"i":1}';
    const second = '{"i":2}';
    const raw = await exchange(
      [head('/text', first.length, false) + first, head('/text', second.length) + second],
      30,
    );
    expect(answers(raw)).toEqual([
      { text: first, again: first, json: { i: 1 }, ended: true, atOnce: true },
      { text: second, again: second, json: { i: 2 }, ended: true, atOnce: true },
    ]);
  });
});
