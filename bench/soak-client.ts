/**
 * One soak request as a client sees it, reduced to an outcome label: how it ended, and for
 * errors the status and the relay's error code (from the JSON body or the stream's error event).
 */
import { createParser } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';
import type { ClientRequest } from './soak-mix.ts';

/** What the relay must never do to a client; any of these fails the soak. */
export type Broken =
  /** A stream that ended with neither [DONE] nor an error event: a fake or lost ending. */
  | 'stream cut'
  /** The connection to the relay failed (reset, refused, closed mid-body). */
  | 'transport error'
  /** No complete answer within the client's deadline: a hang. */
  | 'deadline exceeded'
  /** A 503 without Retry-After: the client cannot know when to come back. */
  | '503 without Retry-After';

export interface Outcome {
  /** e.g. "json 200", "stream complete", "stream error event stream_interrupted", "client abort". */
  readonly label: string;
  /** A 5xx the client heard (status, or an error event's code after a 200): its cause. */
  readonly serverError?: string;
  readonly broken?: Broken;
}

const errorCode = (text: string): string => {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'no code';
  } catch {
    return 'not JSON';
  }
};

/** Reads an SSE body: did it end with [DONE], an error event, or neither? */
async function streamEnd(body: AsyncIterable<Buffer>): Promise<'done' | 'cut' | { error: string }> {
  let end: 'done' | 'cut' | { error: string } = 'cut';
  const parser = createParser({
    onEvent: (e) => {
      if (e.data === '[DONE]') end = 'done';
      else if (e.data.startsWith('{"error"')) end = { error: errorCode(e.data) };
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
  return end;
}

/**
 * Sends one request and reads its whole answer. `deadlineMs` bounds the whole exchange: a
 * request still running then is aborted and reported broken, so a hang cannot stall the soak.
 */
export async function sendOnce(
  dispatcher: Dispatcher,
  baseUrl: string,
  apiKey: string,
  req: ClientRequest,
  deadlineMs: number,
): Promise<Outcome> {
  const hangUp = new AbortController();
  const timer =
    req.abortAfterMs === undefined ? undefined : setTimeout(() => hangUp.abort(), req.abortAfterMs);
  const deadline = AbortSignal.timeout(deadlineMs);
  const kind = req.stream ? 'stream' : 'json';
  try {
    const res = await request(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      dispatcher,
      signal: AbortSignal.any([hangUp.signal, deadline]),
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: req.model,
        stream: req.stream,
        messages: [{ role: 'user', content: 'Say hello.' }],
      }),
    });
    if (res.statusCode !== 200) {
      const code = errorCode(await res.body.text());
      const label = `${kind} ${res.statusCode} ${code}`;
      const noRetryAfter = res.statusCode === 503 && res.headers['retry-after'] === undefined;
      return {
        label,
        ...(res.statusCode >= 500 && { serverError: `${res.statusCode} ${code}` }),
        ...(noRetryAfter && { broken: '503 without Retry-After' as const }),
      };
    }
    if (!req.stream) {
      await res.body.dump({ limit: Infinity });
      return { label: 'json 200' };
    }
    const end = await streamEnd(res.body);
    if (end === 'done') return { label: 'stream complete' };
    if (end === 'cut') {
      return { label: 'stream ended without [DONE] or an error event', broken: 'stream cut' };
    }
    return { label: `stream error event ${end.error}`, serverError: `event ${end.error}` };
  } catch (err) {
    if (hangUp.signal.aborted) return { label: 'client abort' };
    if (deadline.aborted) return { label: 'client deadline exceeded', broken: 'deadline exceeded' };
    return {
      label: `client transport error: ${(err as Error).message}`,
      broken: 'transport error',
    };
  } finally {
    clearTimeout(timer);
  }
}
