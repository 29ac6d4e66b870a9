/** Fields of the relay's pino request line (see CONTRACTS.md). */
interface RelayLine {
  time?: number | string;
  level?: number | string;
  msg?: string;
  requestId?: string;
  keyName?: string;
  model?: string;
  channel?: string;
  status?: number;
  promptTokens?: number;
  completionTokens?: number;
  costUsd?: number;
  latencyMs?: number;
  ttfbMs?: number;
  method?: string;
  path?: string;
  errorCode?: string;
  err?: { message?: string };
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function isoTime(time: number | string | undefined, fallback: number): string {
  const ms =
    typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : fallback;
  return new Date(Number.isNaN(ms) ? fallback : ms).toISOString();
}

/** One readable line per log event: request lines as columns, other JSON as level + msg, the rest raw. */
export function formatLogEvent(message: string, timestamp: number): string {
  let line: RelayLine;
  try {
    const parsed: unknown = JSON.parse(message);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    line = parsed as RelayLine;
  } catch {
    return `${new Date(timestamp).toISOString()}  ${message.trimEnd()}`;
  }
  const time = isoTime(line.time, timestamp);
  if (line.requestId === undefined || line.status === undefined) {
    const level =
      typeof line.level === 'number'
        ? (LEVELS[line.level] ?? String(line.level))
        : (line.level ?? '');
    const detail = line.err?.message ? ` (${line.err.message})` : '';
    return `${time}  ${String(level).toUpperCase().padEnd(5)}  ${line.msg ?? ''}${detail}`.trimEnd();
  }
  const parts = [
    time,
    String(line.status),
    `${line.method ?? '-'} ${line.path ?? '-'}`,
    `key=${line.keyName ?? '-'}`,
    `model=${line.model ?? '-'}`,
  ];
  if (line.channel) parts.push(`via=${line.channel}`);
  if (line.latencyMs !== undefined) {
    parts.push(
      line.ttfbMs !== undefined
        ? `${line.latencyMs}ms (ttfb ${line.ttfbMs}ms)`
        : `${line.latencyMs}ms`,
    );
  }
  if (line.promptTokens !== undefined || line.completionTokens !== undefined) {
    parts.push(`tokens ${line.promptTokens ?? 0}/${line.completionTokens ?? 0}`);
  }
  if (line.costUsd !== undefined) parts.push(`$${line.costUsd.toFixed(6)}`);
  parts.push(`req=${line.requestId}`);
  // Every access-log line says msg "request"; what went wrong is in errorCode.
  if (line.errorCode) parts.push(`error=${line.errorCode}`);
  else if (line.msg && line.msg !== 'request' && line.status >= 400) parts.push(`— ${line.msg}`);
  return parts.join('  ');
}
