import type { Context } from 'hono';
import { nodeIncoming, nodeOutgoing } from '../node-bindings.ts';
import { Cancel } from '../routing/cancel.ts';
import type { AbortSource } from '../routing/cancel.ts';

/** One reason for every hang-up: a DOMException per abort would take a stack each. */
const HUNG_UP = new DOMException('the client closed the connection', 'AbortError');

/**
 * The client's disconnect, for the failover to follow. Through a socket it is heard on Node's
 * response directly: `c.req.raw.signal` is an AbortController that @hono/node-server makes on
 * first read, and following it costs EventTarget's listener (see routing/cancel.ts). Under
 * `app.request()` (tests) there is no socket, and the Request's own signal is the one.
 */
export function clientGone(c: Context): AbortSource {
  const outgoing = nodeOutgoing(c);
  const incoming = nodeIncoming(c);
  if (!outgoing || !incoming) return c.req.raw.signal;
  const gone = new Cancel();
  // As the adapter decides it: a response that closed before it finished was hung up on.
  const onClose = (): void => {
    if (incoming.errored) gone.abort(incoming.errored);
    else if (!outgoing.writableFinished) gone.abort(HUNG_UP);
  };
  // The client may have left already, while its body was read or its quota held.
  if (outgoing.closed) onClose();
  else outgoing.on('close', onClose);
  return gone;
}
