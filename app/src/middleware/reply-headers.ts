import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { stampTiming } from '../timing.ts';
import type { AppEnv } from '../types.ts';

/** Header names in lower case, values as sent. */
export type PlainHeaders = Record<string, string>;

/**
 * The relay's own headers on an answer (request id, CORS, rate limits, timing) gather in one
 * plain object per request, which goes on the answer once. Set one by one on a Web `Response`,
 * they built two or three `Headers` objects per request (one per `c.header()` merge and one per
 * `res.headers` read) that @hono/node-server then copied into the plain object Node's
 * `writeHead` takes. The edge middleware opens the object; a route answers with `answer`, which
 * hands it to the Response whole, and the edge stamps it on any other answer (errors, admin,
 * health) as before.
 */
export function openReplyHeaders(c: Context<AppEnv>, headers: PlainHeaders): void {
  c.set('replyHeaders', headers);
}

/**
 * Marks a Response made by `answer`, which carries the relay's headers already. A property, not
 * a WeakSet: adding every answer to a WeakSet was ~1 % of the request path's CPU (and ephemeron
 * work for the GC).
 */
const ANSWERED = Symbol('answered');
type Marked = Response & { [ANSWERED]?: true };

/** Adds headers to the request's answer, whichever way it is made (e.g. rate-limit headers). */
export function addReplyHeaders<E extends AppEnv>(c: Context<E>, headers: PlainHeaders): void {
  const pending = c.get('replyHeaders');
  if (pending) mergeInto(pending, headers);
}

/** A `Vary` from both sides lists both; any other header from `extra` wins. */
function mergeInto(target: PlainHeaders, extra: PlainHeaders): void {
  for (const name in extra) {
    const value = extra[name]!;
    target[name] = name === 'vary' && target.vary ? `${target.vary}, ${value}` : value;
  }
}

/** The relay's headers and the route's own (`own`) for one answer, timing stamped, in one object. */
export function answerHeaders(c: Context<AppEnv>, own: Readonly<PlainHeaders>): PlainHeaders {
  const headers = { ...own };
  const pending = c.get('replyHeaders');
  if (pending) {
    mergeInto(headers, pending);
    stampTiming(c.get('record'), headers);
  }
  return headers;
}

/**
 * The Response of a route's answer, with its own headers (`own`) and the relay's, timing
 * included, in one plain object: @hono/node-server writes such a Response's headers as they are.
 */
export function answer(
  c: Context<AppEnv>,
  body: string | ReadableStream<Uint8Array>,
  status: number,
  own: Readonly<PlainHeaders>,
): Response {
  const res: Marked = new Response(body, { status, headers: answerHeaders(c, own) });
  // The edge middleware leaves this one's headers alone, not an error answered after it.
  res[ANSWERED] = true;
  return res;
}

let sent: Marked | undefined;

/**
 * What a route returns after writing its answer to Node's response itself (head included, with
 * `answerHeaders`): @hono/node-server then leaves the connection to it. One shared Response,
 * marked as answered so the edge middleware never stamps headers on it.
 */
export function answeredDirectly(): Response {
  return (sent ??= alreadySent());
}

/**
 * @hono/node-server's "already sent" header on a Response of our own. Its RESPONSE_ALREADY_SENT
 * only works when its module loaded before the adapter put its own Response in place of the
 * global one: made by the adapter's, a Response is written from the adapter's cache, head and
 * all (ERR_HTTP_HEADERS_SENT after ours). Reading the body turns the adapter's kind into a plain
 * Response, the kind whose headers the adapter reads; on a plain one it does nothing.
 */
function alreadySent(): Marked {
  const res: Marked = new Response(null, { headers: RESPONSE_ALREADY_SENT.headers });
  void res.body;
  // The adapter copies every answer's headers into a plain object before it looks for the mark,
  // through the Response's getters and Headers' own `has` and iterator: its writing of this
  // Response took 5.4 thousand instructions a request (callgrind), 3.1 with these headers read
  // as a list made once. They are the mark alone, and the one Response is never changed.
  const headers = res.headers;
  const entries: ReadonlyArray<[string, string]> = [...headers];
  Object.defineProperties(headers, {
    has: { value: (name: string) => entries.some(([key]) => key === name.toLowerCase()) },
    [Symbol.iterator]: { value: () => entries[Symbol.iterator]() },
  });
  Object.defineProperty(res, 'headers', { value: headers });
  res[ANSWERED] = true;
  return res;
}

/**
 * For an answer not made by `answer` (an error, a preflight, admin and health routes): the
 * relay's headers, timing included, set on it. Nothing when `answer` already took them.
 */
export function stampReplyHeaders(c: Context<AppEnv>): void {
  const pending = c.get('replyHeaders');
  if (!pending || (c.res as Marked)[ANSWERED]) return;
  stampTiming(c.get('record'), pending);
  const headers = c.res.headers;
  for (const name in pending) {
    if (name === 'vary') headers.append(name, pending[name]!);
    else headers.set(name, pending[name]!);
  }
}
