/**
 * Sends a Bedrock channel's requests through the official SDK, which signs them (SigV4, with
 * credentials from the default chain: the host's instance role in production) and reads AWS's
 * binary event streams. The adapter builds an ordinary request (the REST path names the model
 * and the operation, the body is the operation's JSON); this turns it into an SDK command and
 * the SDK's answer back into what the proxy reads from any upstream: a JSON body, or an SSE
 * body with one message per stream event. SDK exceptions become error answers
 * `{"__type", "message", "modelId"}` with their status, which errors.ts classifies.
 *
 * The SDK is imported on the first Bedrock request: a relay without Bedrock channels never
 * loads it (start-up time and memory).
 */
import type * as BedrockSdk from '@aws-sdk/client-bedrock-runtime';
import type {
  BedrockRuntimeClient,
  ConverseStreamOutput,
  ResponseStream,
} from '@aws-sdk/client-bedrock-runtime';
import type { ChannelConfig } from '../../config.ts';
import { abortedFailure, UpstreamError } from '../../core/failure.ts';
import type { UpstreamFailure } from '../../core/failure.ts';
import { openImageDownload, readAll } from '../../images/download.ts';
import { signalOf } from '../../routing/cancel.ts';
import type { AbortSource } from '../../routing/cancel.ts';
import { classifyTransportError } from '../../routing/transport-error.ts';
import type { UpstreamResponse } from '../../routing/upstream-client.ts';
import { Watchdog } from '../../routing/watchdog.ts';
import type { TransportOptions, UpstreamRequest } from '../types.ts';
import { blobsToBytes, bytesAsBase64, contentBlocks } from './bytes.ts';
import { isObject } from '../../core/json.ts';
import { badRequest } from './request-error.ts';
import { ForbiddenAddressError, guardedFetch } from '../../images/url-guard.ts';

type Sdk = typeof BedrockSdk;
let sdk: Promise<Sdk> | undefined;
/**
 * A load that failed (EMFILE, a file replaced mid-deploy) is forgotten, so the next Bedrock call
 * tries again instead of failing for the life of the process; meanwhile the channel reads as
 * unreachable (502 upstream_unreachable), so the request fails over to the next channel.
 */
const loadSdk = (): Promise<Sdk> =>
  (sdk ??= import('@aws-sdk/client-bedrock-runtime').catch((err: unknown) => {
    sdk = undefined;
    const code = (err as { code?: unknown } | null)?.code;
    throw new UpstreamError(
      {
        kind: 'connect',
        message: `bedrock: the AWS SDK could not be loaded${typeof code === 'string' ? ` (${code})` : ''}`,
      },
      { cause: err },
    );
  }));

/** One client per channel config (a reloaded config makes new ones; the old go with it). */
const clients = new WeakMap<ChannelConfig, BedrockRuntimeClient>();

async function clientFor(channel: ChannelConfig): Promise<BedrockRuntimeClient> {
  const known = clients.get(channel);
  if (known) return known;
  const { BedrockRuntimeClient } = await loadSdk();
  const client = new BedrockRuntimeClient({
    region: channel.region,
    ...(channel.endpoint && { endpoint: channel.endpoint }),
    // The relay retries and fails over itself, with its own budget: the SDK must not also.
    maxAttempts: 1,
    // The SDK's own HTTP/2 handler (one stream per session, as AWS configures it) stays: the
    // relay's first-byte and idle timers bound each call instead of handler timeouts.
  });
  clients.set(channel, client);
  return client;
}

export type BedrockOperation =
  'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream';

/** The REST path Bedrock Runtime itself uses: `/model/{modelId}/{operation}`. */
export function bedrockPath(modelId: string, op: BedrockOperation): string {
  return `/model/${encodeURIComponent(modelId)}/${op}`;
}

function parseTarget(url: string): { modelId: string; op: BedrockOperation } {
  const m = /\/model\/([^/]+)\/([a-z-]+)$/.exec(new URL(url).pathname);
  if (!m) throw new Error(`bedrock transport: not a runtime path: ${url}`);
  return { modelId: decodeURIComponent(m[1]!), op: m[2] as BedrockOperation };
}

interface ServiceError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
  $retryable?: unknown;
}

const isServiceError = (err: unknown): err is ServiceError =>
  err instanceof Error &&
  isObject((err as unknown as Record<string, unknown>).$metadata) &&
  typeof (err as unknown as ServiceError).$metadata.httpStatusCode === 'number';

/** A modelled exception the SDK read from an event-stream frame. */
const isStreamException = (err: unknown): err is ServiceError =>
  err instanceof Error && '$fault' in err;

const encoder = new TextEncoder();

function frame(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data, bytesAsBase64)}\n\n`);
}

const errorJson = (name: string, message: string, modelId: string) =>
  JSON.stringify({ __type: name, message, modelId });

/** A whole answer the proxy reads like any upstream's. */
function wholeResponse(status: number, text: string): UpstreamResponse {
  const bytes = encoder.encode(text);
  return {
    status,
    headers: new Headers({ 'content-type': 'application/json' }),
    contentType: 'application/json',
    text: async (maxBytes = Infinity) => Buffer.from(bytes.subarray(0, maxBytes)).toString('utf8'),
    chunks: async function* () {
      yield bytes;
    },
  };
}

/** The guard's refusal somewhere in a failed download's causes. */
function forbidden(err: unknown): ForbiddenAddressError | undefined {
  for (let e = err; e instanceof Error; e = e.cause)
    if (e instanceof ForbiddenAddressError) return e;
  return undefined;
}

/** Downloads URL images to bytes, within the image code's size and time bounds. */
async function resolveImages(input: Record<string, unknown>, opts: TransportOptions) {
  for (const block of contentBlocks(input)) {
    const image = block.image;
    if (!isObject(image) || !isObject(image.source) || typeof image.source.url !== 'string')
      continue;
    try {
      // The client names these URLs and the relay fetches them from inside the account: every
      // hop's resolved address is checked (url-guard.ts).
      const download = await openImageDownload(image.source.url, {
        maxBytes: opts.media.maxBytes,
        timeoutMs: opts.media.timeoutMs,
        signal: signalOf(opts.signal),
        fetch: guardedFetch(opts.media.allowPrivate ?? false),
      });
      const bytes = await readAll(download.body);
      block.image = {
        format: download.type.ext === 'jpg' ? 'jpeg' : download.type.ext,
        source: { bytes: bytes.toString('base64') },
      };
    } catch (err) {
      if (opts.signal.aborted) throw new UpstreamError(abortedFailure());
      const refused = forbidden(err);
      if (refused)
        throw badRequest(refused.message.replace('an image URL', 'an image URL in the request'));
      const code = (err as { code?: unknown }).code;
      // The URL itself stays out of the message: it may carry a signature.
      throw badRequest(
        `an image URL in the request could not be fetched for Bedrock${typeof code === 'string' ? ` (${code})` : ''}`,
      );
    }
  }
}

/** The SDK's stream events as SSE messages named after the event; exceptions as `error`. */
async function* converseFrames(
  stream: AsyncIterable<ConverseStreamOutput>,
  modelId: string,
): AsyncGenerator<Uint8Array> {
  for await (const event of stream) {
    for (const [name, value] of Object.entries(event)) {
      if (value === undefined || name === '$unknown') continue;
      if (name.endsWith('Exception')) {
        const message = isObject(value) && typeof value.message === 'string' ? value.message : '';
        yield frame('error', { __type: name[0]!.toUpperCase() + name.slice(1), message, modelId });
      } else yield frame(name, value);
    }
  }
}

/**
 * Bedrock's stream exceptions in Anthropic's error types, for a Messages stream's error event:
 * a Messages client tells a throttle (retry later) from an overload from a broken request by it.
 */
const ANTHROPIC_TYPES: Readonly<Record<string, string>> = {
  ThrottlingException: 'rate_limit_error',
  ServiceUnavailableException: 'overloaded_error',
  ModelNotReadyException: 'overloaded_error',
  ValidationException: 'invalid_request_error',
};

/** An exception the SDK raised mid-stream as the stream's own error event, in its dialect. */
function streamErrorFrame(err: ServiceError, op: BedrockOperation, modelId: string): Uint8Array {
  if (op !== 'invoke-with-response-stream')
    return frame('error', { __type: err.name, message: err.message, modelId });
  const error = { type: ANTHROPIC_TYPES[err.name] ?? 'api_error', message: err.message };
  return frame('error', { type: 'error', error });
}

/** InvokeModelWithResponseStream's chunks are Messages stream events, JSON in bytes. */
async function* invokeFrames(stream: AsyncIterable<ResponseStream>): AsyncGenerator<Uint8Array> {
  const decoder = new TextDecoder();
  for await (const event of stream) {
    if (event.chunk?.bytes) {
      const text = decoder.decode(event.chunk.bytes);
      let type = 'message';
      try {
        const parsed: unknown = JSON.parse(text);
        if (isObject(parsed) && typeof parsed.type === 'string') type = parsed.type;
      } catch {
        // Left to the Messages decoder, which fails the stream on data that is not JSON.
      }
      yield encoder.encode(`event: ${type}\ndata: ${text}\n\n`);
    }
    // The SDK throws modelled exceptions rather than yield them: see streamErrorFrame.
  }
}

/** Turns an SDK failure into the proxy's: an answer for service exceptions, else a throw. */
function failureOf(
  err: unknown,
  phase: 'headers' | 'body',
  timedOut: UpstreamFailure | undefined,
  outer: AbortSource,
): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (timedOut) return new UpstreamError(timedOut, { cause: err });
  if ((err as Error | null)?.name === 'CredentialsProviderError')
    return new UpstreamError({
      kind: 'auth',
      message: 'bedrock: no AWS credentials (instance role, or AWS_* settings) could be loaded',
    });
  return new UpstreamError(classifyTransportError(err, phase, outer.aborted), { cause: err });
}

/**
 * One Bedrock call through the SDK, under the channel's timeouts: first byte counts from the
 * start (image downloads aside), idle between stream events; the client's disconnect aborts it.
 */
export async function sendBedrock(
  req: UpstreamRequest,
  opts: TransportOptions,
): Promise<UpstreamResponse> {
  const { modelId, op } = parseTarget(req.url);
  const input = JSON.parse(String(req.body)) as Record<string, unknown>;
  const outer = opts.signal;
  const dog = new Watchdog(outer);

  let answer: UpstreamResponse | undefined;
  try {
    if (op === 'converse' || op === 'converse-stream') {
      await resolveImages(input, opts);
      blobsToBytes(input);
    }
    const [client, lib] = await Promise.all([clientFor(opts.channel), loadSdk()]);
    dog.arm(
      'timeout-first-byte',
      opts.timeouts.firstByteMs,
      'upstream sent no response headers in time',
    );
    const abortSignal = dog.signal;
    const body = op.startsWith('invoke') ? encoder.encode(JSON.stringify(input)) : undefined;
    const invoke = { modelId, body, contentType: 'application/json', accept: 'application/json' };
    opts.waits?.begin();
    try {
      switch (op) {
        case 'converse': {
          const { $metadata: _m, ...out } = await client.send(
            new lib.ConverseCommand({ modelId, ...input }),
            { abortSignal },
          );
          answer = wholeResponse(200, JSON.stringify(out, bytesAsBase64));
          break;
        }
        case 'invoke': {
          const out = await client.send(new lib.InvokeModelCommand(invoke), { abortSignal });
          answer = wholeResponse(200, new TextDecoder().decode(out.body));
          break;
        }
        case 'converse-stream': {
          const out = await client.send(new lib.ConverseStreamCommand({ modelId, ...input }), {
            abortSignal,
          });
          answer = streamResponse(converseFrames(out.stream!, modelId));
          break;
        }
        case 'invoke-with-response-stream': {
          const out = await client.send(new lib.InvokeModelWithResponseStreamCommand(invoke), {
            abortSignal,
          });
          answer = streamResponse(invokeFrames(out.body!));
          break;
        }
      }
    } finally {
      opts.waits?.end();
    }
  } catch (err) {
    dog.finish();
    if (isServiceError(err) && !dog.timedOut && !outer.aborted)
      return wholeResponse(
        err.$metadata.httpStatusCode!,
        errorJson(err.name, err.message, modelId),
      );
    throw failureOf(err, 'headers', dog.timedOut, outer);
  }
  if (!op.endsWith('stream')) dog.finish();
  return answer!;

  /** A stream answer: every event under the idle timer; ending early aborts the call. */
  function streamResponse(events: AsyncGenerator<Uint8Array>): UpstreamResponse {
    dog.disarm();
    const next = async (): Promise<IteratorResult<Uint8Array>> => {
      dog.arm('timeout-idle', opts.timeouts.idleMs, 'upstream went silent mid-response');
      opts.waits?.begin();
      try {
        const r = await events.next();
        dog.disarm();
        if (r.done) dog.finish();
        // An aborted SDK stream may just end: a timeout or a client gone must not read as a
        // clean finish.
        if (r.done && dog.timedOut) throw new UpstreamError(dog.timedOut);
        if (r.done && outer.aborted) throw new UpstreamError(abortedFailure());
        return r;
      } catch (err) {
        dog.finish();
        // An exception the SDK raised from an event (no HTTP status of its own): the stream's
        // own error event.
        if (isStreamException(err) && !dog.timedOut && !outer.aborted)
          return { done: false, value: streamErrorFrame(err, op, modelId) };
        throw failureOf(err, 'body', dog.timedOut, outer);
      } finally {
        opts.waits?.end();
      }
    };
    const iterator: AsyncIterableIterator<Uint8Array> = {
      [Symbol.asyncIterator]: () => iterator,
      next,
      return: async () => {
        dog.finish();
        dog.abort();
        void events.return(undefined).catch(() => {});
        return { done: true, value: undefined };
      },
    };
    return {
      status: 200,
      headers: new Headers({ 'content-type': 'text/event-stream' }),
      contentType: 'text/event-stream',
      chunks: () => iterator,
      text: async () => {
        let out = '';
        const decoder = new TextDecoder();
        for (let r = await next(); !r.done; r = await next())
          out += decoder.decode(r.value, { stream: true });
        return out;
      },
    };
  }
}
