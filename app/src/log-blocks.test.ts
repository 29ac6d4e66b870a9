import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockFileWriter } from './log-blocks.ts';

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

  it('throws when the file refuses a write, and refuses lines rather than grow', () => {
    const file = join(dir, 'readonly.log');
    writeFileSync(file, '');
    const w = writerTo(file, 'r');
    let threw = 0;
    for (let i = 0; i < 2_000; i++) {
      try {
        w.write(line(i));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
        threw++;
      }
    }
    // Every line after the first block's worth fails, none is kept past the buffer.
    expect(threw).toBeGreaterThan(1_500);
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
