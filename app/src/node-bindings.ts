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
