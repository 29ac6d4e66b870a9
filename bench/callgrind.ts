/**
 * Reading callgrind's output files (valgrind --tool=callgrind --separate-threads=yes, one file
 * per dump and thread): how many instructions each thread ran in each dump (its header lines,
 * for `npm run bench:instructions`), and where they went, function by function, with V8's JIT
 * code named from its perf map (for bench/callgrind-top.ts).
 */

/** One output file: its dump (`part`), its thread (1 is the main thread), what it counted. */
export interface CallgrindPart {
  readonly part: number;
  readonly thread: number;
  readonly instructions: number;
}

/**
 * The `part:`, `thread:` and `totals:` lines of one file. `totals:` holds one number per event,
 * Ir first (the only event unless cache simulation is on); the header's `summary:` is not it (0
 * when counting was switched on midway). A file without `thread:` (threads not separated)
 * counts as the main thread's, without `part:` as the first dump.
 */
export function parseCallgrindPart(text: string): CallgrindPart {
  const part = /^part:\s*(\d+)\s*$/m.exec(text);
  const thread = /^thread:\s*(\d+)\s*$/m.exec(text);
  const totals = /^totals:\s*(\d+)/m.exec(text);
  if (!totals) throw new Error('not a callgrind output file: no totals line');
  return {
    part: part ? Number(part[1]) : 1,
    thread: thread ? Number(thread[1]) : 1,
    instructions: Number(totals[1]),
  };
}

/** Instructions per request in one window: the main thread's, the other threads', and both. */
export interface WindowCount {
  readonly main: number;
  readonly others: number;
  readonly total: number;
}

/**
 * Dumps `1..windows`, each taken after `requests` requests: per request, window by window.
 * Later parts (the dump at exit) are left out; a window without its main thread's file throws
 * (a lost dump must not pass for a window that cost nothing).
 */
export function perWindow(
  parts: readonly CallgrindPart[],
  windows: number,
  requests: number,
): WindowCount[] {
  return Array.from({ length: windows }, (_, i) => {
    let main: number | undefined;
    let others = 0;
    for (const p of parts) {
      if (p.part !== i + 1) continue;
      if (p.thread === 1) main = (main ?? 0) + p.instructions;
      else others += p.instructions;
    }
    if (main === undefined) throw new Error(`no main-thread count for window ${i + 1}`);
    return { main: main / requests, others: others / requests, total: (main + others) / requests };
  });
}

/** One function's instructions in a file: its own, and the inclusive count of each call it made. */
export interface FunctionCost {
  self: number;
  /** Inclusive instructions of its calls to other functions (recursive calls left out). */
  calls: number;
  readonly callees: Map<string, number>;
}

/**
 * V8's perf map (`node --perf-basic-prof`): JIT code's address ranges and names, sorted by start.
 * V8 reuses the addresses of code it freed, so ranges overlap; the later line is the newer code.
 */
export interface PerfMap {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly names: readonly string[];
  /** Each range's line in the file: among ranges holding an address, the last line's wins. */
  readonly lines: readonly number[];
  /** The longest range: how far back from an address a range holding it may start. */
  readonly longest: number;
}

/** Reads `/tmp/perf-<pid>.map` (`<start> <size> <name>` in hex, one range a line). */
export function parsePerfMap(text: string): PerfMap {
  const rows: { start: number; end: number; name: string; line: number }[] = [];
  for (const [line, row] of text.split('\n').entries()) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/i.exec(row);
    if (!m) continue;
    // x86-64 user addresses fit in 47 bits, well inside a double's exact integers.
    const start = parseInt(m[1]!, 16);
    rows.push({ start, end: start + parseInt(m[2]!, 16), name: m[3]!, line });
  }
  rows.sort((a, b) => a.start - b.start || a.line - b.line);
  return {
    starts: rows.map((r) => r.start),
    ends: rows.map((r) => r.end),
    names: rows.map((r) => r.name),
    lines: rows.map((r) => r.line),
    longest: rows.reduce((max, r) => Math.max(max, r.end - r.start), 0),
  };
}

/**
 * A function's name with JIT code named: callgrind calls code without a symbol by its address
 * (`0x…`); the newest perf map range holding that address gives V8's name for it. Code in no
 * range keeps its address.
 */
export function nameIn(map: PerfMap, fn: string): string {
  const m = /^0x([0-9a-f]+)$/i.exec(fn);
  if (!m) return fn;
  const at = parseInt(m[1]!, 16);
  // The last range starting at or before the address, then back over every one that may hold it.
  let lo = 0;
  let hi = map.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map.starts[mid]! <= at) lo = mid + 1;
    else hi = mid - 1;
  }
  let found = -1;
  for (let i = hi; i >= 0 && map.starts[i]! > at - map.longest - 1; i--) {
    if (at < map.ends[i]! && (found < 0 || map.lines[i]! > map.lines[found]!)) found = i;
  }
  return found < 0 ? fn : map.names[found]!;
}

/**
 * Adds one callgrind file's per-function instructions to `into`, by name (`rename` names JIT
 * code). The format's name compression (`fn=(3) name` once, `fn=(3)` after) is per file, and a
 * name's recursion level (`foo'2`, callgrind's --separate-recs) is dropped: a call from a level
 * to the next is recursion. A cost line right after `calls=` is that call's inclusive cost; any
 * other is the function's own. Only instructions (`Ir`) are read.
 */
export function addFunctionCosts(
  text: string,
  into: Map<string, FunctionCost>,
  rename: (fn: string) => string = (fn) => fn,
): void {
  const names = new Map<string, string>();
  const named = (spec: string) => rename(spec.replace(/'\d+$/, ''));
  const resolve = (spec: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return named(spec);
    if (m[2] !== undefined) names.set(m[1]!, named(m[2]));
    return names.get(m[1]!) ?? spec;
  };
  // A cost line: the positions (`positions:`, one or two), then one number per `events:` entry.
  let positions = 1;
  let event = 0;
  let fn: FunctionCost | undefined;
  let fnName = '';
  let callee = '';
  let inCall = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('positions:')) positions = line.trim().split(/\s+/).length - 1;
    else if (line.startsWith('events:')) {
      event = line.trim().split(/\s+/).slice(1).indexOf('Ir');
      if (event < 0) throw new Error(`no Ir among the events: ${line}`);
    } else if (line.startsWith('fn=')) {
      fnName = resolve(line.slice(3));
      fn = into.get(fnName);
      if (!fn) into.set(fnName, (fn = { self: 0, calls: 0, callees: new Map() }));
    } else if (line.startsWith('cfn=')) callee = resolve(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (fn && /^[0-9+\-*]/.test(line)) {
      const cost = Number(line.trim().split(/\s+/)[positions + event] ?? 0);
      if (!inCall) fn.self += cost;
      else {
        inCall = false;
        if (callee === fnName) continue;
        fn.calls += cost;
        fn.callees.set(callee, (fn.callees.get(callee) ?? 0) + cost);
      }
    }
  }
}
