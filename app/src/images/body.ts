import { Readable } from 'node:stream';
import type { ImageBody } from './types.ts';

/**
 * Wraps a body for a store write and remembers whether the body itself failed, so a store can
 * report "the download broke" as that error rather than as its own failure: SDKs and streams
 * tend to re-wrap the errors that pass through them.
 */
export function trackedBody(body: ImageBody): {
  stream: Readable;
  bodyError: () => { error: unknown } | undefined;
} {
  if (body instanceof Uint8Array) {
    return { stream: Readable.from([body]), bodyError: () => undefined };
  }
  let failure: { error: unknown } | undefined;
  async function* track(): AsyncGenerator<Uint8Array> {
    try {
      yield* body as AsyncIterable<Uint8Array>;
    } catch (error) {
      failure = { error };
      throw error;
    }
  }
  return { stream: Readable.from(track()), bodyError: () => failure };
}
