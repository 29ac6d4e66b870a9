/**
 * requestHeader through a real socket, against @hono/node-server's own `c.req.header` for the
 * same request: the same value for every name, whatever the case, repetition or spacing the
 * client sent.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHeader } from './node-bindings.ts';

const NAMES = [
  'authorization',
  'content-type',
  'content-length',
  'transfer-encoding',
  'origin',
  'x-api-key',
  'openai-beta',
  // Names asked in another case than the lines'.
  'OpenAI-Beta',
  'Content-Type',
  'cookie',
  'x-repeated',
  'accept',
  'absent',
];

let server: ServerType;
let port: number;

beforeAll(async () => {
  const app = new Hono();
  app.all('/', (c) => {
    const ours = Object.fromEntries(NAMES.map((n) => [n, requestHeader(c, n) ?? null]));
    const adapter = Object.fromEntries(NAMES.map((n) => [n, c.req.header(n) ?? null]));
    return c.json({ ours, adapter });
  });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends one request as written (header lines verbatim); resolves with the JSON answer. */
async function ask(lines: string[], body = ''): Promise<Record<string, Record<string, unknown>>> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
  const ended = once(socket, 'end');
  socket.write(
    `POST / HTTP/1.1\r\nHost: x\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`,
  );
  await ended;
  socket.destroy();
  return JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)) as Record<
    string,
    Record<string, unknown>
  >;
}

describe('requestHeader', () => {
  it.each([
    {
      what: 'names sent in any case',
      lines: [
        'AUTHORIZATION: Bearer sk-one',
        'Content-Type: application/json',
        'Content-Length: 2',
        'Origin: https://app.example',
        'OpenAI-Beta: assistants=v2',
      ],
      body: '{}',
      expected: { authorization: 'Bearer sk-one', 'openai-beta': 'assistants=v2', absent: null },
    },
    {
      what: 'repeated lines, singletons and cookies included',
      lines: [
        'Authorization: Bearer a',
        'authorization: Bearer b',
        'X-Repeated: 1',
        'x-repeated:   2  ',
        'Cookie: a=1',
        'cookie: b=2',
        'Content-Type: text/plain',
        'content-type: application/json',
        'Accept: */*',
        'Transfer-Encoding: chunked',
      ],
      body: '0\r\n\r\n',
      expected: { authorization: 'Bearer a, Bearer b', 'x-repeated': '1, 2', cookie: 'a=1; b=2' },
    },
  ])('reads what the adapter reads: $what', async ({ lines, body, expected }) => {
    const got = await ask(lines, body);
    expect(got.ours).toEqual(got.adapter);
    expect(got.ours).toMatchObject(expected);
  });

  it('asks the Request itself without a socket', async () => {
    const app = new Hono();
    app.get('/', (c) => c.text(requestHeader(c, 'x-api-key') ?? 'none'));
    const res = await app.request('/', { headers: { 'X-Api-Key': 'k' } });
    expect(await res.text()).toBe('k');
  });
});
