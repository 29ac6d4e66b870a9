import { RelayError } from '../errors.ts';
import type { ServerConfig } from '../config.ts';
import type { FailoverStop } from '../routing/failover.ts';
import type { UpstreamFailure } from '../core/failure.ts';

type Budgets = Pick<ServerConfig, 'requestBudgetMs' | 'nonStreamBudgetMs'>;

/**
 * The failover runner's budget for one request. A non-streaming answer arrives whole or not at
 * all, so its budget also covers reading the answer: a CDN in front gives up on a silent origin
 * (CloudFront after its origin read timeout), and past that point nobody is left to bill.
 */
export function requestBudgetFor(stream: boolean, server: Budgets): number {
  if (stream || server.nonStreamBudgetMs === undefined) return server.requestBudgetMs;
  return Math.min(server.requestBudgetMs, server.nonStreamBudgetMs);
}

/**
 * The 504 for a non-streaming request that ran out of its own budget, or undefined when another
 * error tells the story better. `elapsedMs` catches a last attempt whose first-byte timeout,
 * clamped to the time left, fired a moment before the budget did.
 */
export function nonStreamTimeout(
  stream: boolean,
  server: Budgets,
  stop: { readonly reason: FailoverStop; readonly failure?: UpstreamFailure | undefined },
  elapsedMs: number,
): RelayError | undefined {
  const cap = server.nonStreamBudgetMs;
  if (stream || cap === undefined || cap >= server.requestBudgetMs) return undefined;
  const timedOut = stop.failure?.kind.startsWith('timeout') === true && elapsedMs >= cap;
  if (stop.reason !== 'budget' && !timedOut) return undefined;
  const seconds = Math.round(cap / 100) / 10;
  return new RelayError(
    504,
    'non_stream_timeout',
    `No complete answer within ${seconds} s, the longest this relay waits for a non-streaming ` +
      'request (its CDN would cut the connection after that). Retry with "stream": true: a ' +
      'stream has no such limit as long as it keeps sending.',
  );
}
