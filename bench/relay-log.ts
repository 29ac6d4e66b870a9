import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ascending, pct } from './stats.ts';

/** A run's wall-clock bounds, in ms since the epoch (the log's `time`). */
export interface LogWindow {
  readonly from: number;
  readonly to: number;
}

/** What the bench reads from the relay's log after a run. */
export interface RelayLogSummary {
  readonly lines: number;
  readonly levels: ReadonlyMap<string, number>;
  readonly requestLines: number;
  /** warn lines for 499s: wrk hanging up with requests in flight as a run ends. */
  readonly clientClosed: number;
  /** The first few warn/error/fatal lines, cut to 300 characters. */
  readonly sample: readonly string[];
  /**
   * Per window asked for: the `relayMs` of every request line written in it, in log order. That
   * is the relay's own time (`x-relay-overhead-ms`): from its first look at the request to its
   * answer's head, less the time spent waiting on upstreams.
   */
  readonly relayMs: readonly number[][];
}

const TIME = /"time":(\d+)/;
const RELAY_MS = /"relayMs":([\d.]+)/;

/**
 * Reads the log line by line: a full bench writes well over 512 MB of log, more than one
 * JavaScript string can hold, so the file is never read whole.
 */
export async function summarizeRelayLog(
  path: string,
  windows: readonly LogWindow[] = [],
): Promise<RelayLogSummary> {
  const relayMs = windows.map((): number[] => []);
  const levels = new Map<string, number>();
  const sample: string[] = [];
  let lines = 0;
  let requestLines = 0;
  let clientClosed = 0;
  const input = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of input) {
    lines++;
    // The relay writes level labels ("level":"warn"), not pino's numbers.
    const level = /"level":"(\w+)"/.exec(line)?.[1];
    if (level) levels.set(level, (levels.get(level) ?? 0) + 1);
    if (line.includes('"msg":"request"')) {
      requestLines++;
      if (windows.length > 0) addRelayMs(line, windows, relayMs);
    }
    if (level === 'warn' && line.includes('"status":499,')) clientClosed++;
    if ((level === 'warn' || level === 'error' || level === 'fatal') && sample.length < 3) {
      sample.push(line.slice(0, 300));
    }
  }
  return { lines, levels, requestLines, clientClosed, sample, relayMs };
}

function addRelayMs(line: string, windows: readonly LogWindow[], into: number[][]): void {
  const own = RELAY_MS.exec(line);
  const time = TIME.exec(line);
  if (!own || !time) return;
  const t = Number(time[1]);
  const i = windows.findIndex((w) => t >= w.from && t <= w.to);
  if (i >= 0) into[i]!.push(Number(own[1]));
}

/** One scenario's own times, in ms. */
export interface OwnTime {
  readonly scenario: string;
  readonly requests: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/**
 * Percentiles of the relay's own time per scenario, the windows of one scenario (its
 * repetitions) pooled: `labels[i]` names the scenario of window i, whose times are `relayMs[i]`.
 * Scenarios come in the order they first appear.
 */
export function ownTimeByScenario(
  labels: readonly string[],
  relayMs: readonly (readonly number[])[],
): OwnTime[] {
  const pooled = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const into = pooled.get(label) ?? [];
    for (const ms of relayMs[i] ?? []) into.push(ms);
    pooled.set(label, into);
  });
  return [...pooled].map(([scenario, times]) => {
    const sorted = ascending(times);
    return {
      scenario,
      requests: sorted.length,
      p50: pct(sorted, 50),
      p90: pct(sorted, 90),
      p99: pct(sorted, 99),
      p999: pct(sorted, 99.9),
      max: sorted.at(-1) ?? NaN,
    };
  });
}
