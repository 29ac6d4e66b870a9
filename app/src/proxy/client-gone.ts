import type { Context } from 'hono';
import { nodeIncoming, nodeOutgoing } from '../node-bindings.ts';
import { Cancel } from '../routing/cancel.ts';
import type { AbortSource } from '../routing/cancel.ts';

/**
 * The client's disconnect, as the proxy follows it (the failover, a broken stream's error frame,
 * a token count). Through a socket it is heard on Node's response directly: `c.req.raw.signal`
 * is an AbortController that @hono/node-server makes on first read, and following it costs
 * EventTarget's listener (see routing/cancel.ts). Under `app.request()` (tests) there is no
 * socket, and the Request's own signal is the one.
 */
export function clientGone(c: Context): AbortSource {
  const outgoing = nodeOutgoing(c);
  const incoming = nodeIncoming(c);
  if (!outgoing || !incoming) return c.req.raw.signal;
  const gone = new Cancel();
  // As the adapter decides it: a response that closed before it finished was cut, by the client
  // or by the relay (a client that stopped reading a stream).
  const onClose = (): void => {
    if (incoming.errored) gone.abort(incoming.errored);
    else if (!outgoing.writableFinished)
      gone.abort(
        new DOMException('the connection closed before the answer was complete', 'AbortError'),
      );
  };
  // The client may have left already, while its body was read or its quota held.
  if (outgoing.closed) onClose();
  else outgoing.on('close', onClose);
  return gone;
}
