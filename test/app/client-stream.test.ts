import { describe, expect, it } from 'vitest';
import { ClientGone, ClientStream } from '../../app/src/proxy/client-stream.ts';

describe('the SSE body written to a client without a socket (a Web stream)', () => {
  it('passes writes through to a reader that reads', async () => {
    const sink = new ClientStream(1_000);
    const reader = sink.readable.getReader();
    const read = reader.read();
    await sink.write('data: 1\n\n');
    expect(new TextDecoder().decode((await read).value)).toBe('data: 1\n\n');
    sink.close();
    expect((await reader.read()).done).toBe(true);
  });

  it('gives up on a client that stops taking bytes, instead of buffering forever', async () => {
    const sink = new ClientStream(100);
    const started = performance.now();
    let writes = 0;
    await expect(
      (async () => {
        for (; writes < 10_000; writes++) await sink.write('data: x\n\n');
      })(),
    ).rejects.toBeInstanceOf(ClientGone);
    // the queue holds a bounded number of events, then the stall timer fires
    expect(writes).toBeLessThan(200);
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(sink.write('more')).rejects.toBeInstanceOf(ClientGone);
  });

  it('lets every write that waited for room go on once the client reads (a heartbeat beside content)', async () => {
    const sink = new ClientStream(5_000);
    // Fill the queue without a reader, then two writers wait at once.
    for (let i = 0; i < 63; i++) await sink.write(`data: ${i}\n\n`);
    const waiting = [sink.write(': heartbeat\n\n'), sink.write('data: content\n\n')];
    const reader = sink.readable.getReader();
    let text = '';
    const drained = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += new TextDecoder().decode(value);
      }
    })();
    await Promise.all(waiting);
    sink.close();
    await drained;
    expect(text).toContain(': heartbeat\n\ndata: content\n\n');
    expect(text.split('\n\n').filter(Boolean)).toHaveLength(65);
  });

  it('treats a cancelled body (client hung up) as gone', async () => {
    const sink = new ClientStream(10_000);
    await sink.readable.cancel();
    await expect(sink.write('data: x\n\n')).rejects.toBeInstanceOf(ClientGone);
  });

  it('tells a write waiting for room at once when the client hangs up', async () => {
    const sink = new ClientStream(60_000);
    for (let i = 0; i < 63; i++) await sink.write(`data: ${i}\n\n`);
    const waiting = sink.write('data: last\n\n');
    const started = performance.now();
    await sink.readable.cancel();
    await expect(waiting).rejects.toBeInstanceOf(ClientGone);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
