import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BlockFileWriter } from './log-blocks.ts';
import type { WriteBytes } from './log-blocks.ts';

const dir = mkdtempSync(join(tmpdir(), 'log-blocks-'));
const open: { fd: number; writer: BlockFileWriter }[] = [];

function writerTo(file: string, flags = 'a', everyMs = 60_000) {
  const fd = openSync(file, flags);
  const writer = new BlockFileWriter(fd, everyMs);
  open.push({ fd, writer });
  return writer;
}

afterEach(() => {
  for (const { fd, writer } of open.splice(0)) {
    writer.end();
    closeSync(fd);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: number) => `${JSON.stringify({ level: 'info', i, msg: 'request' })}\n`;

describe('BlockFileWriter', () => {
  it('holds lines until 4 KiB have gathered, then writes them all, in order', () => {
    const file = join(dir, 'blocks.log');
    const w = writerTo(file);
    let i = 0;
    while (readFileSync(file, 'utf8') === '') w.write(line(i++));
    const written = readFileSync(file, 'utf8');
    expect(Buffer.byteLength(written)).toBeGreaterThanOrEqual(4096);
    expect(written).toBe(Array.from({ length: i }, (_, n) => line(n)).join(''));
  });

  it('writes what it holds on flushSync, flush(cb) and end()', () => {
    const file = join(dir, 'flush.log');
    const w = writerTo(file);
    w.write(line(1));
    expect(readFileSync(file, 'utf8')).toBe('');
    w.flushSync();
    expect(readFileSync(file, 'utf8')).toBe(line(1));
    w.write(line(2));
    let called = false;
    w.flush((err) => {
      called = err === undefined;
    });
    expect(called).toBe(true);
    w.write(line(3));
    w.end();
    expect(readFileSync(file, 'utf8')).toBe(line(1) + line(2) + line(3));
  });

  it('writes on its timer when no block fills', async () => {
    const file = join(dir, 'timer.log');
    const w = writerTo(file, 'a', 20);
    w.write(line(1));
    await expect.poll(() => readFileSync(file, 'utf8'), { timeout: 2_000 }).toBe(line(1));
  });

  it('keeps UTF-8 whole, and writes a line larger than its buffer at once', () => {
    const file = join(dir, 'utf8.log');
    const w = writerTo(file);
    const accents = `{"msg":"${'é中🙂'.repeat(500)}"}\n`;
    const huge = `{"msg":"${'x'.repeat(100_000)}"}\n`;
    w.write(accents);
    w.write(huge);
    w.write(line(1));
    w.end();
    expect(readFileSync(file, 'utf8')).toBe(accents + huge + line(1));
  });

  it('keeps lines while the file refuses them, and throws only once its buffer is full', () => {
    const file = join(dir, 'readonly.log');
    writeFileSync(file, '');
    const w = writerTo(file, 'r');
    const threw: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      try {
        w.write(`${'x'.repeat(99)}\n`);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
        threw.push(i);
      }
    }
    // 100 bytes a line: the first 600 fit in 64 KiB, the last 1,000 cannot.
    expect(threw[0]).toBeGreaterThan(600);
    expect(threw.slice(-1_000)).toEqual(Array.from({ length: 1_000 }, (_, n) => 1_000 + n));
  });

  it('loses and repeats nothing when the file takes part of a block or refuses one', () => {
    const file: Buffer[] = [];
    let call = 0;
    // Every third call takes half of what it is given, every fifth refuses (a full disk).
    const flaky: WriteBytes = (_fd, bytes, offset, length) => {
      call++;
      if (call % 5 === 0) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      const n = call % 3 === 0 ? Math.max(1, length >> 1) : length;
      file.push(Buffer.from(bytes.subarray(offset, offset + n)));
      return n;
    };
    const w = new BlockFileWriter(-1, 60_000, flaky);
    const lines = Array.from({ length: 3_000 }, (_, i) => `${'é'.repeat(i % 50)}${line(i)}`);
    for (const l of lines) w.write(l);
    for (let i = 0; i < 10 && Buffer.concat(file).length < Buffer.byteLength(lines.join('')); i++)
      w.flush();
    w.end();
    expect(Buffer.concat(file).toString('utf8')).toBe(lines.join(''));
  });

  it('writes every line at once after end(), when no timer is left', () => {
    const file = join(dir, 'ended.log');
    const w = writerTo(file);
    w.end();
    w.write(line(1));
    expect(readFileSync(file, 'utf8')).toBe(line(1));
  });

  it("takes pino's lines as its destination", () => {
    const file = join(dir, 'pino.log');
    const w = writerTo(file);
    const logger = pino({ base: null, timestamp: false }, w);
    logger.info({ n: 1 }, 'one');
    logger.flush();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ level: 30, n: 1, msg: 'one' });
  });
});
