import type { Context } from 'hono';
import { RelayError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../types.ts';
import { estimateTokens, usageFromPayload } from '../usage/extract.ts';
import type { OpenedUpstream, ProxyJob } from './forward.ts';
import type { Settlement } from './settlement.ts';
import { classifyTransportError } from './upstream.ts';

const MAX_JSON_BYTES = 256 * 1024 * 1024;

export interface RelayArgs {
  readonly c: Context<AppEnv>;
  readonly deps: AppDeps;
  readonly job: ProxyJob;
  readonly opened: OpenedUpstream;
  readonly settlement: Settlement;
  readonly abort: AbortController;
  readonly clientSignal: AbortSignal;
  readonly onClientAbort: () => void;
}

/** A whole (non-stream) answer: read it, bill it from its usage object, pass the bytes on unchanged. */
export async function relayJson({
  c,
  deps,
  job,
  opened,
  settlement,
  abort,
  clientSignal,
  onClientAbort,
}: RelayArgs): Promise<Response> {
  const record = c.get('record');
  const now = deps.now ?? Date.now;
  let bytes: Buffer;
  try {
    bytes = await readAll(opened.res.body, MAX_JSON_BYTES);
  } catch (err) {
    if (err instanceof RelayError) throw err;
    const failure = classifyTransportError(err, abort.signal);
    throw failure.kind === 'timeout-idle'
      ? new RelayError(504, 'upstream_timeout', 'Upstream went silent in the middle of its answer.')
      : new RelayError(502, 'upstream_error', 'Upstream broke off its answer.');
  } finally {
    clientSignal.removeEventListener('abort', onClientAbort);
  }
  record.ttfbMs = now() - record.startedAt;
  const contentType = opened.res.headers.get('content-type') ?? 'application/json';
  let json: unknown;
  if (contentType.includes('json')) {
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
  }
  const usage = usageFromPayload(json);
  const status = opened.res.status;
  let out: Buffer | string = bytes;
  let images = job.images ?? 0;
  if (job.transformJson && json !== undefined && status >= 200 && status < 300) {
    const transformed = await job.transformJson(json, opened.route);
    out = JSON.stringify(transformed.body);
    images = transformed.images ?? images;
  }
  settlement.finish({
    status,
    usage: usage
      ? { ...usage, images }
      : {
          promptTokens: job.estimate.promptTokens,
          completionTokens: job.transformJson ? 0 : estimateTokens(bytes.toString('utf8')),
          images,
        },
    source: usage ? 'upstream' : 'estimated',
    detail: { ...job.detail, ...(images > 0 && { images }) },
  });
  return c.body(out as unknown as ArrayBuffer, status as 200, { 'content-type': contentType });
}

async function readAll(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit)
      throw new RelayError(502, 'upstream_response_too_large', 'Upstream answer is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
