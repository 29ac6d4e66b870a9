/**
 * A streaming client that stops reading: once the relay's queue for it is full and stays full
 * for `server.clientStallMs`, the relay gives up on it. It closes the client's connection
 * itself (nothing printed to stderr: a stall is the client's business, not a relay fault),
 * stops reading the upstream, writes the request's usage row and releases its quota hold.
 * Run against the real entry point as a child process, to see its stderr as systemd would.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../app/src/store/sqlite.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { eventually } from '../fixtures/relay-harness.ts';
import { spawnRelay } from '../fixtures/relay-process.ts';
import type { RelayProcess } from '../fixtures/relay-process.ts';

const KEY = 'sk-stall-0123456789abcdef';
/** Far more than loopback's socket buffers on both sides hold (a few MiB each). */
const EVENTS = 400;
const CONTENT = 'x'.repeat(64 * 1024);

/** Until the response can take more, or is gone. */
const writable = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });

describe('a streaming client that stops reading', () => {
  let upstream: FakeUpstream;
  let relay: RelayProcess;
  let upstreamClosed!: Promise<number>;

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up' });
    relay = await spawnRelay({
      config: {
        server: { clientStallMs: 300 },
        channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
        keys: [{ name: 'staller', key: KEY, quota: 10 }],
        prices: { m: { input: 1, output: 1 } },
      },
    });
  });
  afterAll(async () => {
    relay?.proc.kill('SIGKILL');
    await upstream?.close();
  });

  it('is cut off quietly, and the request is still billed and its hold released', async () => {
    upstreamClosed = new Promise((resolve) => {
      upstream.overrides.push(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let sent = 0;
        res.on('close', () => resolve(sent));
        for (; sent < EVENTS && !res.destroyed; sent++) {
          const delta = { content: CONTENT };
          const frame = {
            id: 'c',
            object: 'chat.completion.chunk',
            choices: [{ index: 0, delta }],
          };
          if (!res.write(`data: ${JSON.stringify(frame)}\n\n`)) await writable(res);
        }
        res.end('data: [DONE]\n\n');
        return true;
      });
    });

    const body = JSON.stringify({
      model: 'm',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const socket = connect(relay.port, '127.0.0.1');
    await once(socket, 'connect');
    // Sends the request, then never reads (no 'data' listener): the socket stays paused.
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: relay\r\nauthorization: Bearer ${KEY}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const closed = once(socket, 'close');

    const store = new SqliteStore({ path: join(relay.dataDir, 'relay.db') });
    try {
      const [row] = await eventually(() => {
        const rows = store.listUsage({ limit: 10 });
        expect(rows).toHaveLength(1);
        return rows;
      }, 15_000);
      // Billed for what it was sent, as any client that hangs up mid-stream.
      expect(row).toMatchObject({ keyName: 'staller', status: 499, source: 'partial' });
      expect(store.getKey('staller')!.reservedMicros).toBe(0);
    } finally {
      store.close();
    }
    // The relay let go of the upstream: it stopped long before the whole answer was sent.
    expect(await upstreamClosed).toBeLessThan(EVENTS);

    // Reading what was buffered reaches the end: the relay closed the connection.
    let received = '';
    socket.on('data', (c: Buffer) => (received = (received + c.toString('latin1')).slice(-64)));
    await closed;
    expect(received).not.toContain('[DONE]');

    // Whatever the relay printed in the meantime has arrived by now.
    await new Promise((r) => setTimeout(r, 200));
    expect(relay.output.filter((l) => l.startsWith('stderr:'))).toEqual([]);
  });
});
