import { CliError, EXIT } from './cli.ts';

export interface LogFilters {
  requestId?: string;
  keyName?: string;
  model?: string;
  /** "500", "5xx", "4xx" or "error" (any status >= 400). */
  status?: string;
}

// Values go inside a quoted filter-pattern string; refusing quotes and spaces keeps the
// pattern well-formed without an escaping scheme CloudWatch does not document.
const SAFE_VALUE = /^[\w.:/@+-]+$/;

function quoted(value: string, flag: string): string {
  if (!SAFE_VALUE.test(value)) {
    throw new CliError(
      `${flag} may contain letters, digits and . : / @ + - _ only, got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  }
  return `"${value}"`;
}

function statusTerms(status: string): string[] {
  if (/^[1-5]\d\d$/.test(status)) return [`$.status = ${status}`];
  const range = /^([1-5])xx$/i.exec(status);
  if (range) return [`$.status >= ${range[1]}00`, `$.status <= ${range[1]}99`];
  if (status === 'error') return ['$.status >= 400'];
  throw new CliError(
    `--status must be a code (502), a class (5xx, 4xx) or "error", got ${JSON.stringify(status)}`,
    EXIT.usage,
  );
}

/** A CloudWatch Logs JSON filter pattern for the relay's request lines, or undefined for all lines. */
export function buildFilterPattern(filters: LogFilters): string | undefined {
  const terms: string[] = [];
  if (filters.requestId) terms.push(`$.requestId = ${quoted(filters.requestId, '--request-id')}`);
  if (filters.keyName) terms.push(`$.keyName = ${quoted(filters.keyName, '--key')}`);
  if (filters.model) terms.push(`$.model = ${quoted(filters.model, '--model')}`);
  if (filters.status) terms.push(...statusTerms(filters.status));
  if (terms.length === 0) return undefined;
  return `{ ${terms.map((term) => `(${term})`).join(' && ')} }`;
}
