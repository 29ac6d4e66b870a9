import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * Paths that could carry a secret if someone ever logs a request or config object whole.
 * The per-request line never includes headers or bodies in the first place.
 */
const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  'headers["x-origin-secret"]',
  'apiKey',
  '*.apiKey',
  'key',
  'secret',
  'originSecret',
  '*.originSecret',
];

export function createLogger(
  options: { level?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'llm-relay' },
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
