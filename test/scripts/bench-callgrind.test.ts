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
 * address, a cost line after `calls=` that is the call's inclusive cost, a recursion level as
 * `'2`), with V8's perf map.
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
  "cfn=(13) 0x00000000282ba7e9'2",
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
  'fn=(13)',
  '0 250',
  '',
  'totals: 10150',
].join('\n');

const proxy = 'JS:*proxy file:///relay/server.mjs:36:28158';
const perfMap = [
  '282b0000 10000 JS:*listOnTimeout node:internal/timers:623:25',
  '1a27000 3f8 Builtin:DeoptimizationEntry_Eager',
  // V8 freed the code above and made new code at some of its addresses: the later line is it.
  `282ba000 1000 ${proxy}`,
].join('\n');

describe("bench/callgrind-top's reading of functions", () => {
  it('names JIT code by the newest perf map range that holds its address, and leaves the rest', () => {
    const map = parsePerfMap(perfMap);
    expect(nameIn(map, '0x00000000282ba7e9')).toBe(proxy);
    // In the old range only: its name still holds there.
    expect(nameIn(map, '0x00000000282b0010')).toBe('JS:*listOnTimeout node:internal/timers:623:25');
    expect(nameIn(map, '0x00000000282bb000')).toBe('JS:*listOnTimeout node:internal/timers:623:25');
    expect(nameIn(map, '0x0000000001a27000')).toBe('Builtin:DeoptimizationEntry_Eager');
    // Past every range's end, and before the first: no name.
    expect(nameIn(map, '0x00000000282c0000')).toBe('0x00000000282c0000');
    expect(nameIn(map, '0x0000000000001000')).toBe('0x0000000000001000');
    expect(nameIn(map, 'sqlite3_step')).toBe('sqlite3_step');
  });

  it("counts a function's own cost apart from its calls', by callee, without recursion", () => {
    const fns = new Map<string, FunctionCost>();
    addFunctionCosts(records, fns, (fn) => nameIn(parsePerfMap(perfMap), fn));
    // Its recursion level ('2) is the same function: its own cost is added, the call to it is not.
    expect(fns.get(proxy)).toMatchObject({ self: 1_750, calls: 9_000 });
    expect([...fns.get(proxy)!.callees]).toEqual([['sqlite3_step', 9_000]]);
    expect(fns.get('sqlite3_step')).toMatchObject({ self: 8_000, calls: 400 });
    // A compressed name seen first as a callee is the same function when it runs.
    expect(fns.get('0x000000000749e138')!.self).toBe(400);
  });

  it('reads Ir past two positions, subposition shorthands and other events', () => {
    const fns = new Map<string, FunctionCost>();
    const text = [
      'positions: instr line',
      'events: Dr Ir',
      'fn=(1) f',
      '0x4010 12 7 100',
      '+3 * 7 20',
      '-1 13 7 3',
      'cfn=(2) g',
      'calls=1 0x5000 40',
      '* * 7 50',
      'fn=(2)',
      '0x5000 40 7 50',
    ].join('\n');
    addFunctionCosts(text, fns);
    expect(fns.get('f')).toMatchObject({ self: 123, calls: 50 });
    expect(fns.get('g')!.self).toBe(50);
    expect(() => addFunctionCosts('events: Dr\nfn=(1) f\n0 1\n', fns)).toThrow(/no Ir/);
  });

  it('adds files up, each with its own name table', () => {
    const fns = new Map<string, FunctionCost>();
    addFunctionCosts(records, fns);
    // Another dump numbers its names anew: (11) is another function there, and (12) is unknown.
    addFunctionCosts(
      [
        'events: Ir',
        'fn=(11) other',
        '0 5',
        'fn=(12)',
        '0 7',
        'fn=(10) sqlite3_step',
        '0 8000',
      ].join('\n'),
      fns,
    );
    expect(fns.get('sqlite3_step')!.self).toBe(16_000);
    expect(fns.get('other')!.self).toBe(5);
    expect(fns.get('(12)')!.self).toBe(7);
    expect(fns.get('0x000000000749e138')!.self).toBe(400);
  });
});
