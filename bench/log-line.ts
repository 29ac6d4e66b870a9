/**
 * The access line's cost, alone: `node bench/log-line.ts [file]` (not part of `npm test`).
 * Drives the real access log (and its request metrics) with a minimal request context, LOG_LINES
 * times (default 200,000, after 20,000 to warm up), into the relay's synchronous destination
 * for a regular file (4 KiB blocks: BlockFileWriter), as the host's stdout; prints CPU µs per
 * line (user, system) from process.cpuUsage, and bytes per line. CPU time, not wall time: it
 * survives a busy machine.
 */
import { openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInflightTracker } from '../app/src/inflight.ts';
import { BlockFileWriter } from '../app/src/log-blocks.ts';
import { createLogger } from '../app/src/logger.ts';
import { accessLog } from '../app/src/middleware/access-log.ts';
import { loggedRequestMetrics } from '../app/src/metrics/request-metrics.ts';

const file = process.argv[2] ?? join(tmpdir(), `log-line-${process.pid}.log`);
writeFileSync(file, '');
const dest = new BlockFileWriter(openSync(file, 'a'), 250);
const logger = createLogger({ destination: dest });
const metrics = loggedRequestMetrics(logger);
// As the server runs it: every request in the in-flight count a graceful shutdown drains.
const log = accessLog(logger, Date.now, metrics, createInflightTracker());
const N = Number(process.env.LOG_LINES || 200_000);
const vars = new Map<string, unknown>([['requestId', 'req_01JEXAMPLE000000000000000']]);
const c = {
  req: { path: '/v1/chat/completions', method: 'POST' },
  res: { status: 200 },
  get: (k: string) => vars.get(k),
  set: (k: string, v: unknown) => vars.set(k, v),
} as never;
function one(i: number) {
  const end = log.begin(c);
  const r = vars.get('record') as Record<string, unknown>;
  Object.assign(r, {
    keyName: 'bench',
    model: 'gpt-4o-mini',
    routed: true,
    upstreamModel: 'gpt-4o-mini',
    channel: 'bench',
    attempts: 1,
    promptTokens: 12,
    completionTokens: 20 + (i % 7),
    costMicros: 14,
    source: 'upstream',
    ttfbMs: 1.234 + (i % 13) / 10,
    relayMs: 0.2 + (i % 17) / 100,
    status: 200,
  });
  end();
}
/** Ten requests a turn, then the microtasks run (the in-flight count lets them go), as in a server. */
async function run(count: number) {
  for (let i = 0; i < count; i++) {
    one(i);
    if (i % 10 === 9) await Promise.resolve();
  }
}
await run(20_000);
const t0 = process.cpuUsage();
await run(N);
metrics.stop();
const t = process.cpuUsage(t0);
dest.flushSync();
const bytes = statSync(file).size;
const lines = 20_000 + N;
console.log(
  JSON.stringify({
    usPerLine: +((t.user + t.system) / N).toFixed(2),
    userUs: +(t.user / N).toFixed(2),
    sysUs: +(t.system / N).toFixed(2),
    bytesPerLine: Math.round(bytes / lines),
  }),
);
if (!process.argv[2]) rmSync(file);
