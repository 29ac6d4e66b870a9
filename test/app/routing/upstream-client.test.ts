import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError, type FailureKind } from '../../../app/src/core/failure.ts';
import {
  createUpstreamClient,
  type UpstreamClient,
} from '../../../app/src/routing/upstream-client.ts';
import { startFaultUpstream, type FaultUpstream } from '../../fixtures/fault-upstream.ts';

let up: FaultUpstream;
let client: UpstreamClient;
const timeouts = { connectMs: 1_000, firstByteMs: 200, idleMs: 200 };

beforeAll(async () => {
  up = await startFaultUpstream();
  client = createUpstreamClient();
});
afterAll(async () => {
  await client.close();
  await up.close();
});
afterEach(() => {
  up.requests.length = 0;
});

// Abort tests use these, so that only the abort can close the socket within 1 s.
const slow = { connectMs: 10_000, firstByteMs: 10_000, idleMs: 10_000 };

const chat = (stream: boolean, signal?: AbortSignal, t = timeouts) =>
  client.request({
    url: `${up.baseUrl}/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: JSON.stringify({ model: 'm', stream, messages: [] }),
    timeouts: t,
    ...(signal ? { signal } : {}),
  });

async function kindOf(p: Promise<unknown>): Promise<FailureKind> {
  try {
    await p;
  } catch (err) {
    if (err instanceof UpstreamError) return err.failure.kind;
    throw err;
  }
  throw new Error('expected an UpstreamError');
}

async function drain(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  const decoder = new TextDecoder();
  for await (const bytes of chunks) out += decoder.decode(bytes, { stream: true });
  return out;
}

describe('createUpstreamClient', () => {
  it('returns status, headers and the body; sends method, headers and body', async () => {
    up.script({ kind: 'ok', content: 'hello there' });
    const res = await chat(false);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const json = JSON.parse(await res.text()) as {
      choices: Array<{ message: { content: string } }>;
    };
    expect(json.choices[0]?.message.content).toBe('hello there');
    expect(up.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      body: { model: 'm', stream: false },
    });
    expect(up.requests[0]?.headers.authorization).toBe('Bearer sk-test');
  });

  it('reuses keep-alive connections for sequential requests to the same origin', async () => {
    // undici may open a second socket while the first is still being released, so the check
    // is "fewer sockets than requests", which fails without keep-alive.
    for (let i = 0; i < 4; i++) await (await chat(false)).text();
    expect(up.requests).toHaveLength(4);
    expect(new Set(up.requests.map((r) => r.remotePort)).size).toBeLessThan(4);
  });

  it('streams SSE chunk by chunk', async () => {
    up.script({ kind: 'ok', content: 'a b' });
    const res = await chat(true);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await drain(res.chunks());
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text).toContain('"content":"a "');
  });

  it('non-2xx bodies are readable, bounded by text(maxBytes)', async () => {
    up.script({ kind: 'status', status: 503, body: 'x'.repeat(100_000) });
    const res = await chat(false);
    expect(res.status).toBe(503);
    expect(await res.text(1_000)).toHaveLength(1_000);
  });

  it('text() leaves out a byte-order mark, as a TextDecoder does, so the JSON still parses', async () => {
    up.script({
      kind: 'status',
      status: 200,
      body: '\uFEFF{"object":"list","data":[]}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    const res = await chat(false);
    expect(JSON.parse(await res.text())).toEqual({ object: 'list', data: [] });
  });

  describe('text() of a body that is all in when asked for', () => {
    /**
     * A request for `body`, once every byte of it is in (the upstream writes head and body
     * together; a moment later both are here), with its waits on the upstream counted.
     */
    const whole = async (body: string, via = client) => {
      up.script({ kind: 'status', status: 200, body });
      const caller = new AbortController();
      let waits = 0;
      const res = await via.request({
        url: `${up.baseUrl}/chat/completions`,
        body: '{}',
        timeouts,
        signal: caller.signal,
        waits: { begin: () => waits++, end: () => undefined },
      });
      await new Promise((r) => setTimeout(r, 20));
      return { res, signal: caller.signal, waits: () => waits };
    };

    it('is taken at once, leaving no timer or listener behind', async () => {
      const { res, signal, waits } = await whole('{"n":1}');
      const before = waits();
      expect(getEventListeners(signal, 'abort')).toHaveLength(1);
      expect(await res.text()).toBe('{"n":1}');
      expect(res.bodyEnded).toBe(true);
      expect(waits(), 'text() waited on the upstream').toBe(before);
      // The watchdog is done: its idle timer cleared, its listener on the caller's signal gone.
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    });

    it('leaves its connection (the pool’s only one) ready for the next request', async () => {
      const single = createUpstreamClient({ connectionsPerOrigin: 1 });
      try {
        expect(await (await whole('{"n":1}', single)).res.text()).toBe('{"n":1}');
        expect(await (await whole('{"n":2}', single)).res.text()).toBe('{"n":2}');
        expect(up.requests).toHaveLength(2);
        expect(up.requests[1]!.remotePort).toBe(up.requests[0]!.remotePort);
      } finally {
        await single.close();
      }
    });

    it('is bounded by maxBytes, a character cut there becoming U+FFFD', async () => {
      expect(await (await whole('x'.repeat(5_000))).res.text(1_000)).toHaveLength(1_000);
      // "é" is two bytes: the cut after the first leaves half of it.
      expect(await (await whole('aé')).res.text(2)).toBe('a\uFFFD');
    });
  });

  it('refused connection → connect', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    const kind = await kindOf(
      client.request({ url: `http://127.0.0.1:${port}/v1/chat/completions`, body: '{}', timeouts }),
    );
    expect(kind).toBe('connect');
  });

  it('refused → a connection failure; reset after the request was sent → the channel was reached', async () => {
    const failureOf = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        if (err instanceof UpstreamError) return err.failure;
        throw err;
      }
      throw new Error('expected an UpstreamError');
    };
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((r) => s.close(() => r()));
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    expect(await failureOf(client.request({ url, body: '{}', timeouts }))).not.toHaveProperty(
      'reached',
    );
    const resetting = createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r));
    const reset = await failureOf(
      client.request({
        url: `http://127.0.0.1:${(resetting.address() as AddressInfo).port}/v1/chat/completions`,
        body: '{}',
        timeouts,
      }),
    );
    await new Promise<void>((r) => resetting.close(() => r()));
    expect(reset).toMatchObject({ kind: 'connect', reached: true });
  });

  it('no headers in time → timeout-first-byte, and the socket is closed', async () => {
    up.script({ kind: 'hang-before-headers' });
    expect(await kindOf(chat(true))).toBe('timeout-first-byte');
    await up.requests[0]?.closed;
  });

  it('silence between chunks → timeout-idle from the body', async () => {
    up.script({ kind: 'hang-mid-stream', afterChunks: 2 });
    const res = await chat(true);
    expect(await kindOf(drain(res.chunks()))).toBe('timeout-idle');
    await up.requests[0]?.closed;
  });

  it('slow chunks within the idle limit are fine', async () => {
    up.script({ kind: 'ok', content: 'one two three', chunkDelayMs: 60, firstChunkDelayMs: 100 });
    const res = await chat(true);
    expect(await drain(res.chunks())).toContain('[DONE]');
  });

  it('socket dropped mid-body → connect', async () => {
    up.script({ kind: 'drop-mid-stream', afterChunks: 2 });
    const res = await chat(true);
    expect(await kindOf(drain(res.chunks()))).toBe('connect');
  });

  it('abort before headers → aborted, upstream socket closed within 1 s', async () => {
    up.script({ kind: 'hang-before-headers' });
    const ac = new AbortController();
    const pending = chat(true, ac.signal, slow);
    await up.waitForRequests(1);
    const at = performance.now();
    ac.abort();
    expect(await kindOf(pending)).toBe('aborted');
    expect(((await up.requests[0]?.closed) as number) - at).toBeLessThan(1_000);
  });

  it('abort mid-body and ending the body early both close the upstream socket within 1 s', async () => {
    up.script(
      { kind: 'hang-mid-stream', afterChunks: 2 },
      { kind: 'hang-mid-stream', afterChunks: 2 },
    );
    const ac = new AbortController();
    const res = await chat(true, ac.signal, slow);
    const chunks = res.chunks();
    await chunks.next();
    const at = performance.now();
    ac.abort();
    expect(await kindOf(chunks.next())).toBe('aborted');
    expect(((await up.requests[0]?.closed) as number) - at).toBeLessThan(1_000);

    const res2 = await chat(true, undefined, slow);
    const chunks2 = res2.chunks();
    await chunks2.next();
    const at2 = performance.now();
    await chunks2.return!();
    expect(((await up.requests[1]?.closed) as number) - at2).toBeLessThan(1_000);
  });

  it('a body read slower than it arrives comes whole and in order, the socket kept', async () => {
    // Many writes, each its own chunk: reading pauses the upstream while a chunk waits, and
    // resumes it when the reader takes it. (A reader that stops for good: client-stall.test.ts.)
    const pieces = Array.from({ length: 300 }, (_, i) => `${i}:${'x'.repeat(200)}\n`);
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const write = (i: number): void => {
        if (i === pieces.length) return void res.end();
        if (res.write(pieces[i])) setImmediate(write, i + 1);
        else res.once('drain', () => write(i + 1));
      };
      write(0);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    try {
      const url = `http://127.0.0.1:${port}/slow-reader`;
      for (let round = 0; round < 2; round++) {
        const res = await client.request({ url, body: '{}', timeouts: slow });
        let text = '';
        for await (const chunk of res.chunks()) {
          text += Buffer.from(chunk).toString('utf8');
          await new Promise((r) => setTimeout(r, 1));
        }
        expect(text).toBe(pieces.join(''));
      }
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  it('says when the whole body is in: with the last chunk, or only once a late end came', async () => {
    let lateEnd: (() => void) | undefined;
    const s = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (req.url === '/together') return void res.end('data: a\n\ndata: [DONE]\n\n');
      res.write('data: a\n\ndata: [DONE]\n\n');
      lateEnd = () => res.end();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { port } = s.address() as AddressInfo;
    const read = async (path: string) => {
      const res = await client.request({ url: `http://127.0.0.1:${port}${path}`, timeouts: slow });
      const chunks = res.chunks();
      const first = await chunks.next();
      expect(Buffer.from(first.value!).toString()).toContain('[DONE]');
      return { res, chunks };
    };
    try {
      const together = await read('/together');
      expect(together.res.bodyEnded).toBe(true);
      expect((await together.chunks.next()).done).toBe(true);

      const late = await read('/late');
      expect(late.res.bodyEnded).toBe(false);
      lateEnd!();
      expect((await late.chunks.next()).done).toBe(true);
      expect(late.res.bodyEnded).toBe(true);
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  it("abort while waiting for the pool's only connection → aborted at once, never sent; the pool serves on", async () => {
    // The dispatch handler has no controller until its request gets a socket: the abort must
    // not wait for one, and the request left in the pool's queue must not jam it.
    const one = createUpstreamClient({ connectionsPerOrigin: 1 });
    const req = (signal?: AbortSignal) =>
      one.request({
        url: `${up.baseUrl}/chat/completions`,
        body: JSON.stringify({ model: 'm', stream: false, messages: [] }),
        timeouts: slow,
        ...(signal ? { signal } : {}),
      });
    try {
      up.script({ kind: 'hang-before-headers' }, { kind: 'ok', content: 'after' });
      const holder = new AbortController();
      const occupant = kindOf(req(holder.signal));
      await up.waitForRequests(1);
      const ac = new AbortController();
      const queued = req(ac.signal);
      ac.abort();
      // The occupant still hangs: a request that waited for its connection would never settle.
      expect(await kindOf(queued)).toBe('aborted');
      holder.abort();
      expect(await occupant).toBe('aborted');
      expect(await (await req()).text()).toContain('after');
      expect(up.requests).toHaveLength(2);
    } finally {
      await one.close();
    }
  });

  it('an already aborted signal sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await kindOf(chat(true, ac.signal))).toBe('aborted');
    expect(up.requests).toHaveLength(0);
  });
});

describe('request bodies and headers', () => {
  it('accepts a Headers object and an undici FormData body', async () => {
    const { FormData } = await import('undici');
    const form = new FormData();
    form.set('model', 'whisper-1');
    form.set('file', new Blob([new Uint8Array([1, 2, 3])]), 'a.wav');
    up.script({ kind: 'ok' });
    const res = await client.request({
      url: `${up.baseUrl}/audio/transcriptions`,
      headers: new Headers({ authorization: 'Bearer sk-form' }),
      body: form,
      timeouts,
    });
    await res.text();
    expect(up.requests[0]?.headers.authorization).toBe('Bearer sk-form');
    expect(String(up.requests[0]?.headers['content-type'])).toMatch(
      /^multipart\/form-data; boundary=/,
    );
    expect(String(up.requests[0]?.body)).toContain('name="model"');
  });
});
