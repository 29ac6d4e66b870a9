import { describe, expect, it } from 'vitest';
import { parseCallgrindPart, perWindow } from '../../bench/callgrind.ts';

/** The head and tail of a file callgrind 3.19 wrote on `callgrind_control --dump`. */
function part(n: number | null, thread: number | null, totals: number): string {
  return [
    '# callgrind format',
    'version: 1',
    'creator: callgrind-3.19.0',
    'pid: 5348',
    'cmd:  node --max-semi-space-size=8 server.mjs',
    ...(n === null ? [] : [`part: ${n}`]),
    ...(thread === null ? [] : [`thread: ${thread}`]),
    '',
    'desc: Trigger: dump',
    '',
    'positions: line',
    'events: Ir',
    // The header's summary stays 0 in a dump with counting switched on midway; totals is right.
    'summary: 0',
    '',
    'ob=(8) /usr/lib/x86_64-linux-gnu/libm.so.6',
    'fl=(1) ???',
    'fn=(2) fmod',
    '0 1867',
    '',
    `totals: ${totals}`,
    '',
  ].join('\n');
}

describe("the instruction bench's reading of callgrind files", () => {
  it("reads a file's dump, its thread and its totals, not the header's summary", () => {
    expect(parseCallgrindPart(part(2, 3, 1_171_557_365))).toEqual({
      part: 2,
      thread: 3,
      instructions: 1_171_557_365,
    });
  });

  it('counts a file without threads or parts as the main thread of the first dump', () => {
    expect(parseCallgrindPart(part(null, null, 42))).toMatchObject({ part: 1, thread: 1 });
  });

  it('refuses a file without totals rather than count it as nothing', () => {
    expect(() => parseCallgrindPart('# callgrind format\nthread: 1\nsummary: 0\n')).toThrow(
      /no totals/,
    );
  });

  it('splits each window into the main thread and the rest, without the exit dump', () => {
    const parts = [
      part(1, 1, 3_000),
      part(1, 2, 300),
      part(1, 5, 900),
      part(2, 1, 6_000),
      // The exit dump: after the windows, not one of them.
      part(3, 1, 99_999),
    ].map(parseCallgrindPart);
    expect(perWindow(parts, 2, 3)).toEqual([
      { main: 1_000, others: 400, total: 1_400 },
      { main: 2_000, others: 0, total: 2_000 },
    ]);
  });

  it('refuses a window whose main thread has no count, rather than call it free', () => {
    const parts = [part(1, 1, 3_000), part(2, 4, 300)].map(parseCallgrindPart);
    expect(() => perWindow(parts, 2, 3)).toThrow(/window 2/);
  });
});
