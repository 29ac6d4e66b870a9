/**
 * Reading callgrind's output files (valgrind --tool=callgrind --separate-threads=yes, one file
 * per dump and thread): how many instructions each thread ran in each dump. Only the header
 * lines are read; the per-function records that follow are callgrind_annotate's business.
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
