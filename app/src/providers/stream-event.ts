/** What every upstream stream decoder starts from: an event that says nothing, and its JSON. */
import type { DecodedEvent } from './types.ts';

/** An event that carries nothing the proxy acts on, passed on as is. */
export const NOTHING: DecodedEvent = {
  events: [],
  forward: true,
  content: false,
  finished: false,
  last: false,
};

/** An event whose data is not a JSON object: the upstream is not speaking its wire format. */
export const NOT_AN_OBJECT: DecodedEvent = {
  ...NOTHING,
  forward: false,
  failure: { kind: 'malformed', message: 'upstream sent an event that is not a JSON object' },
};

/** The event's data as a JSON object, or undefined. */
export function eventObject(data: string): Record<string, unknown> | undefined {
  try {
    const json = JSON.parse(data) as unknown;
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
