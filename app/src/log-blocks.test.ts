import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileBlockWriter } from './log-blocks.ts';

function logFile() {
  const path = join(mkdtempSync(join(tmpdir(), 'log-blocks-')), 'relay.log');
  const fd = openSync(path, 'a');
  return { fd, read: () => readFileSync(path, 'utf8') };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('log lines for a file, in blocks', () => {
  it('holds lines until a block is full, then writes it whole', () => {
    const { fd, read } = logFile();
    const out = fileBlockWriter(fd, { minLength: 120, flushMs: 60_000 });
    const line = (i: number) => `{"i":${i},"pad":"${'x'.repeat(20)}"}\n`; // 37 characters
    for (let i = 0; i < 3; i++) out.write(line(i));
    expect(read()).toBe('');
    out.write(line(3));
    expect(read()).toBe([0, 1, 2, 3].map(line).join(''));
    out.write(line(4));
    out.flushSync();
    expect(read()).toBe([0, 1, 2, 3, 4].map(line).join(''));
    out.flushSync();
    expect(read()).toHaveLength(5 * 37);
  });

  it('writes text beyond ASCII byte for byte', () => {
    const { fd, read } = logFile();
    const out = fileBlockWriter(fd, { minLength: 10, flushMs: 60_000 });
    const lines = ['{"path":"/v1/模型/ä"}\n', '{"emoji":"🙂\u2028"}\n'];
    for (const l of lines) out.write(l);
    expect(read()).toBe(lines.join(''));
  });

  it('writes what it holds every flushMs, and on flush(cb)', () => {
    vi.useFakeTimers();
    const { fd, read } = logFile();
    const out = fileBlockWriter(fd, { minLength: 4096, flushMs: 250 });
    out.write('a\n');
    vi.advanceTimersByTime(249);
    expect(read()).toBe('');
    vi.advanceTimersByTime(1);
    expect(read()).toBe('a\n');
    out.write('b\n');
    const cb = vi.fn();
    out.flush(cb);
    expect(read()).toBe('a\nb\n');
    expect(cb).toHaveBeenCalledWith();
  });

  it('throws to the writer when the file refuses a block, and writes nothing twice', () => {
    const { fd } = logFile();
    const out = fileBlockWriter(fd, { minLength: 4, flushMs: 60_000 });
    closeSync(fd);
    expect(() => out.write('lost\n')).toThrow(/EBADF/);
    // The refused block is gone: nothing is held to be written again.
    expect(() => out.flushSync()).not.toThrow();
    const cb = vi.fn();
    out.write('x');
    out.flush(cb);
    expect(cb.mock.calls[0]![0]).toBeInstanceOf(Error);
  });
});
