/**
 * What the soak sends and what its upstreams answer: weighted choices drawn from one seeded
 * random source, so two runs with the same seed send the same mix.
 */
import type { FaultStep } from '../test/fixtures/fault-upstream.ts';

/** A healthy model with an upstream's everyday faults. */
export const CHAT_MODEL = 'soak-chat';
/** The same answers, a chunk every 100 ms: streams that stay open for about a second. */
export const SLOW_MODEL = 'soak-slow';
/** The flaky model: every stream drops after a few chunks of content. */
export const DROP_MODEL = 'soak-drop';
/** The models the two healthy upstreams serve. */
export const SOAK_MODELS = [CHAT_MODEL, SLOW_MODEL, DROP_MODEL];
/**
 * A model only dead channels serve: one nobody listens on (connections refused) and one whose
 * key is rejected. Its requests exercise channel circuits, dead keys and panic routing.
 */
export const DOWN_MODEL = 'soak-down';

export type Weighted<T> = ReadonlyArray<readonly [number, T]>;

export function pick<T>(choices: Weighted<T>, random: () => number): T {
  const total = choices.reduce((sum, [w]) => sum + w, 0);
  let r = random() * total;
  for (const [w, value] of choices) {
    r -= w;
    if (r < 0) return value;
  }
  return choices[choices.length - 1]![1];
}

const retryLater: FaultStep = {
  kind: 'status',
  status: 429,
  headers: { 'retry-after': '1' },
  error: { message: 'Rate limit reached, retry in 1s', type: 'requests', code: 'rate_limit' },
};
const serverError: FaultStep = { kind: 'status', status: 500 };
/** The connection taken, the request read, then reset before any answer. */
const reset: FaultStep = { kind: 'reset' };

const chatStream: Weighted<FaultStep> = [
  [82, { kind: 'ok' }],
  [5, serverError],
  [4, retryLater],
  [4, { kind: 'drop-mid-stream', afterChunks: 3 }], // after content: the client sees it
  [3, { kind: 'drop-mid-stream', afterChunks: 1 }], // before content: failed over unseen
  [2, reset],
];
const chatJson: Weighted<FaultStep> = [
  [86, { kind: 'ok' }],
  [7, serverError],
  [5, retryLater],
  [2, reset],
];

/** What the upstream behind the rejected key answers, whatever it is asked. */
export const DEAD_KEY_STEP: FaultStep = {
  kind: 'status',
  status: 401,
  error: { message: 'Incorrect API key provided: sk-soak-***', code: 'invalid_api_key' },
};

/** The upstream's answer to one request, from its body. */
export function upstreamStep(body: Record<string, unknown>, random: () => number): FaultStep {
  if (body.model === DROP_MODEL) return { kind: 'drop-mid-stream', afterChunks: 3 };
  if (body.model === SLOW_MODEL) return { kind: 'ok', chunkDelayMs: 100 };
  return pick(body.stream === true ? chatStream : chatJson, random);
}

export interface ClientRequest {
  readonly model: string;
  readonly stream: boolean;
  /** Hang up this long after sending (maybe before, maybe mid-stream, maybe after the end). */
  readonly abortAfterMs?: number;
}

/** What one soak client sends next. */
export function clientRequest(random: () => number): ClientRequest {
  const kind = pick<ClientRequest | 'abort'>(
    [
      [28, { model: CHAT_MODEL, stream: false }],
      [34, { model: CHAT_MODEL, stream: true }],
      [10, { model: SLOW_MODEL, stream: true }],
      [10, { model: DROP_MODEL, stream: true }],
      [5, { model: DOWN_MODEL, stream: false }],
      [13, 'abort'],
    ],
    random,
  );
  if (kind !== 'abort') return kind;
  return {
    model: random() < 0.5 ? SLOW_MODEL : CHAT_MODEL,
    stream: true,
    // From 20 ms: a request the relay never received would have no usage row to count.
    abortAfterMs: 20 + Math.floor(random() * 1_200),
  };
}
