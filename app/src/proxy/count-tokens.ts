import type { Context } from 'hono';
import type { ProxyJob } from '../core/job.ts';
import { answer } from '../middleware/reply-headers.ts';
import { adapterFor } from '../providers/registry.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { admit } from './admission.ts';
import { clientGone } from './client-gone.ts';

/** A count is advisory: an upstream that takes longer than this is not worth waiting for. */
const COUNT_TIMEOUT_MS = 10_000;

/**
 * Counts a request's input tokens. An upstream that speaks the client's dialect and serves
 * the model counts exactly; otherwise, or when it cannot (no such endpoint, an error, a
 * timeout), the relay's estimate answers: a client uses the count to decide when to compact a
 * conversation, so an estimate beats an error. Counting never goes through retries, failover
 * or the breakers (a channel without a count endpoint must not look broken for chat), and is
 * never billed; the request still leaves its usage row.
 */
export async function countTokens(
  c: Context<AppEnv>,
  rt: RelayRuntime,
  job: ProxyJob,
  estimate: () => Record<string, unknown>,
  /** What an upstream's answer must contain to count as a count (the dialect's field). */
  counted: RegExp = /"input_tokens"\s*:\s*\d/,
): Promise<Response> {
  const record = c.get('record');
  record.model = job.model;
  // The key and model are checked as for a chat request; every channel can serve that.
  const routes = admit(rt, c.get('key'), { ...job, operation: 'chat', chat: undefined });
  record.routed = true;
  const route = routes.find((r) =>
    adapterFor(r.channel.type).serves(job.operation, job.dialect.name),
  );
  if (route) {
    const adapter = adapterFor(route.channel.type);
    const gone = clientGone(c);
    try {
      const req = adapter.buildRequest({
        channel: route.channel,
        operation: job.operation,
        stream: false,
        model: route.upstreamModel,
        defaultMaxTokens: rt.config.server.defaultMaxTokens,
        headers: job.headers ?? {},
        ...(await job.body(route)),
      });
      const t = route.channel.timeouts;
      const res = await rt.upstream.request({
        url: req.url,
        method: req.method,
        headers: req.headers,
        body: req.body,
        timeouts: {
          connectMs: t.connectMs,
          firstByteMs: Math.min(t.firstByteMs, COUNT_TIMEOUT_MS),
          idleMs: t.idleMs,
        },
        signal: gone,
      });
      const text = await res.text(64 * 1024);
      if (res.status >= 200 && res.status < 300 && counted.test(text)) {
        record.channel = route.channel.name;
        record.upstreamModel = route.upstreamModel;
        return answer(c, text, 200, { 'content-type': 'application/json' });
      }
      rt.logger.warn(
        { requestId: c.get('requestId'), channel: route.channel.name, upstreamStatus: res.status },
        'token count failed upstream; answering with an estimate',
      );
    } catch (err) {
      if (gone.aborted) throw err;
      rt.logger.warn(
        {
          requestId: c.get('requestId'),
          channel: route.channel.name,
          kind: (err as { failure?: { kind?: string } }).failure?.kind,
        },
        'token count failed upstream; answering with an estimate',
      );
    }
  }
  return c.json(estimate());
}
