import { describe, expect, it } from 'vitest';
import {
  addFunctionCosts,
  nameIn,
  parseCallgrindPart,
  parsePerfMap,
  perWindow,
} from '../../bench/callgrind.ts';
import type { FunctionCost } from '../../bench/callgrind.ts';

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

/**
 * Function records as callgrind 3.19 writes them on a dump (names compressed, JIT code by its
 * address, a cost line after `calls=` that is the call's inclusive cost), with V8's perf map.
 */
const records = [
  'positions: line',
  'events: Ir',
  '',
  'ob=(1) /usr/bin/node',
  'fl=(1) ???',
  'fn=(10) 0x00000000282ba7e9',
  '0 1000',
  'cfl=(1)',
  'cfn=(11) sqlite3_step',
  'calls=3 0 ',
  '0 9000',
  '0 500',
  'cfn=(10)',
  'calls=1 0 ',
  '0 70000',
  '',
  'fn=(11)',
  '0 8000',
  'cfn=(12) 0x000000000749e138',
  'calls=2 0 ',
  '0 400',
  '',
  'fn=(12)',
  '0 400',
  '',
  'totals: 9900',
].join('\n');

const perfMap = [
  '282ba000 1000 JS:*proxy file:///relay/server.mjs:36:28158',
  '1a27000 3f8 Builtin:DeoptimizationEntry_Eager',
].join('\n');

describe("bench/callgrind-top's reading of functions", () => {
  it('names JIT code by the perf map range that holds its address, and leaves the rest', () => {
    const map = parsePerfMap(perfMap);
    expect(nameIn(map, '0x00000000282ba7e9')).toBe('JS:*proxy file:///relay/server.mjs:36:28158');
    expect(nameIn(map, '0x0000000001a27000')).toBe('Builtin:DeoptimizationEntry_Eager');
    // Past a range's end, and code V8 freed: no name.
    expect(nameIn(map, '0x00000000282bb000')).toBe('0x00000000282bb000');
    expect(nameIn(map, 'sqlite3_step')).toBe('sqlite3_step');
  });

  it("counts a function's own cost apart from its calls', by callee, without recursion", () => {
    const fns = new Map<string, FunctionCost>();
    addFunctionCosts(records, fns, (fn) => nameIn(parsePerfMap(perfMap), fn));
    const proxy = fns.get('JS:*proxy file:///relay/server.mjs:36:28158')!;
    expect(proxy.self).toBe(1_500);
    expect(proxy.calls).toBe(9_000);
    expect([...proxy.callees]).toEqual([['sqlite3_step', 9_000]]);
    const step = fns.get('sqlite3_step')!;
    expect(step).toMatchObject({ self: 8_000, calls: 400 });
    // A compressed name seen first as a callee is the same function when it runs.
    expect(fns.get('0x000000000749e138')!.self).toBe(400);
  });

  it('adds files up, each with its own name table', () => {
    const fns = new Map<string, FunctionCost>();
    addFunctionCosts(records, fns);
    addFunctionCosts(records.replaceAll('(11)', '(99)').replace('fn=(12)\n', 'fn=(7) x\n'), fns);
    expect(fns.get('sqlite3_step')!.self).toBe(16_000);
    expect(fns.get('x')!.self).toBe(400);
  });
});
