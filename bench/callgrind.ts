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

/** V8's perf map (`node --perf-basic-prof`): JIT code's address ranges and names, sorted. */
export interface PerfMap {
  readonly starts: readonly bigint[];
  readonly ends: readonly bigint[];
  readonly names: readonly string[];
}

/** Reads `/tmp/perf-<pid>.map` (`<start> <size> <name>` in hex, one range a line). */
export function parsePerfMap(text: string): PerfMap {
  const rows: { start: bigint; end: bigint; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/i.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    rows.push({ start, end: start + BigInt(`0x${m[2]}`), name: m[3]! });
  }
  rows.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return {
    starts: rows.map((r) => r.start),
    ends: rows.map((r) => r.end),
    names: rows.map((r) => r.name),
  };
}

/**
 * A function's name with JIT code named: callgrind calls code without a symbol by its address
 * (`0x…`); the perf map range holding that address gives V8's name for it. Code V8 later moved
 * or freed may be in no range, and keeps its address.
 */
export function nameIn(map: PerfMap, fn: string): string {
  const m = /^0x([0-9a-f]+)$/i.exec(fn);
  if (!m) return fn;
  const at = BigInt(`0x${m[1]}`);
  let lo = 0;
  let hi = map.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (at < map.starts[mid]!) hi = mid - 1;
    else if (at >= map.ends[mid]!) lo = mid + 1;
    else return map.names[mid]!;
  }
  return fn;
}

/**
 * Adds one callgrind file's per-function instructions to `into`, by name (`rename` names JIT
 * code). The format's name compression (`fn=(3) name` once, `fn=(3)` after) is per file. A
 * cost line right after `calls=` is that call's inclusive cost; any other is the function's own.
 * Only the first event (Ir) is read.
 */
export function addFunctionCosts(
  text: string,
  into: Map<string, FunctionCost>,
  rename: (fn: string) => string = (fn) => fn,
): void {
  const names = new Map<string, string>();
  const resolve = (spec: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return rename(spec);
    if (m[2] !== undefined) names.set(m[1]!, rename(m[2]));
    return names.get(m[1]!) ?? spec;
  };
  let positions = 1;
  let fn: FunctionCost | undefined;
  let fnName = '';
  let callee = '';
  let inCall = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('positions:')) positions = line.trim().split(/\s+/).length - 1;
    else if (line.startsWith('fn=')) {
      fnName = resolve(line.slice(3));
      fn = into.get(fnName);
      if (!fn) into.set(fnName, (fn = { self: 0, calls: 0, callees: new Map() }));
    } else if (line.startsWith('cfn=')) callee = resolve(line.slice(4));
    else if (line.startsWith('calls=')) inCall = true;
    else if (fn && /^[0-9+\-*]/.test(line)) {
      const cost = Number(line.trim().split(/\s+/)[positions] ?? 0);
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
