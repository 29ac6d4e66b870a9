/**
 * A stream's first writes leave together (Node holds a response's writes for the turn they are
 * made in; the relay writes to it directly, see NodeClientStream). Nothing may stay held: a later chunk leaves when it comes, and the next answer on the
 * same keep-alive connection finds the socket as Node left it. Each upstream step waits until
 * the client has seen the step before: a chunk held back would stall the test, not slow it.
 */
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseWrite, startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const KEY = 'sk-keepalive-0123456789abcdef';

const text = (content: string) => ({
  id: 'c',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
  usage: null,
});
const stop = { id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };

describe('a client connection kept alive across streams', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;
  const sockets: Socket[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  /** What the client has received so far, and who waits for a piece of it. */
  let received = '';
  const waiting: { piece: string; resolve: () => void }[] = [];
  const seen = (piece: string) =>
    new Promise<void>((resolve) => {
      if (received.includes(piece)) resolve();
      else waiting.push({ piece, resolve });
    });

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({ apiKey: 'up' });
    t = await startTestRelay({
      server: { heartbeatMs: 20 },
      channels: [{ name: 'u', baseUrl: upstream.url, apiKey: 'up', models: ['m'] }],
      keys: [{ name: 'k', key: KEY, quota: 10 }],
      prices: { m: { input: 1, output: 1 } },
    });
    t.relay.server.on('connection', (s: Socket) => sockets.push(s));
  });
  afterAll(async () => {
    agent.destroy();
    await t?.close();
    await upstream?.close();
  });

  /** One chat request on the shared connection; resolves with the body once it ended. */
  const chat = (stream: boolean) =>
    new Promise<string>((resolve, reject) => {
      received = '';
      const req = request(
        `${t.baseUrl}/v1/chat/completions`,
        {
          agent,
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            received += d;
            for (const w of waiting.filter((x) => received.includes(x.piece))) {
              waiting.splice(waiting.indexOf(w), 1);
              w.resolve();
            }
          });
          res.on('end', () => resolve(received));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }));
    });

  /** The upstream's next stream: after the client saw `after`, each text once it has the last. */
  const stepwise = (texts: string[], after?: string) =>
    upstream.overrides.push(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (after) await seen(after);
      for (const piece of texts) {
        sseWrite(res, text(piece));
        await seen(piece);
      }
      sseWrite(res, stop);
      res.end('data: [DONE]\n\n');
      return true;
    });

  const nothingHeld = () => {
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.writableCorked).toBe(0);
  };

  it('sends each chunk as it comes, before and after heartbeats, and the next answer after it', async () => {
    // Opened by its first content; each later chunk only once the client has the one before.
    stepwise(['first', 'second']);
    expect(await chat(true)).toContain('[DONE]');
    nothingHeld();

    // Opened by a heartbeat (from a timer, not a promise callback): content after it.
    stepwise(['after the beat'], ': keep-alive');
    expect(await chat(true)).toContain('[DONE]');
    nothingHeld();

    // An upstream that breaks after content: the stream ends in an error frame.
    upstream.overrides.push(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sseWrite(res, text('then it breaks'));
      await seen('then it breaks');
      res.destroy();
      return true;
    });
    expect(await chat(true)).toContain('"error"');
    nothingHeld();

    expect(JSON.parse(await chat(false))).toMatchObject({ object: 'chat.completion' });
    nothingHeld();
  });
});
