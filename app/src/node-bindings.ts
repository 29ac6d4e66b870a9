import { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

/** What @hono/node-server puts in `c.env`; nothing there under `app.request()` (tests). */
type Bindings = { incoming?: unknown; outgoing?: unknown } | undefined;

/** Node's request, when the request came through a socket. */
export function nodeIncoming(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as Bindings)?.incoming;
  return incoming instanceof IncomingMessage ? incoming : undefined;
}

/** Node's response, when the request came through a socket. */
export function nodeOutgoing(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as Bindings)?.outgoing;
  return outgoing instanceof ServerResponse ? outgoing : undefined;
}

/**
 * A request header by its name in any case, as `c.req.header(name)` gives it: every line of that
 * name, in order, joined by ", " ("; " for cookie); undefined when there is none. Through a
 * socket it is read off Node's raw header list, which Node's parser has already trimmed and
 * checked (a value with a control character is a 400 before any handler). @hono/node-server's
 * Headers reads the same list for some names, but builds Node's `headers` object for others
 * and checks the name and value again on every read: ~5 thousand instructions of a chat
 * request's main thread (callgrind, one run, the bench's five header lines) for the six headers
 * a chat request reads.
 */
export function requestHeader(c: Context, header: string): string | undefined {
  const incoming = nodeIncoming(c);
  if (!incoming) return c.req.header(header);
  const name = header.toLowerCase();
  const raw = incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length !== name.length || (key !== name && key.toLowerCase() !== name)) continue;
    const line = raw[i + 1]!;
    value = value === undefined ? line : `${value}${name === 'cookie' ? '; ' : ', '}${line}`;
  }
  return value;
}
