import type { FailureKind, UpstreamFailure } from '../core/failure.ts';

interface ErrorLike {
  code?: unknown;
  name?: unknown;
}

/** Maps undici / socket errors to a failure; `phase` tells a dropped body from a refused connect. */
export function classifyTransportError(
  err: unknown,
  phase: 'headers' | 'body',
  aborted: boolean,
): UpstreamFailure {
  const { code, name } = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const fail = (kind: FailureKind, message: string): UpstreamFailure => ({ kind, message });
  if (aborted || code === 'UND_ERR_ABORTED' || name === 'AbortError') {
    return fail('aborted', 'request aborted');
  }
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fail('timeout-connect', 'upstream connect timed out');
    case 'UND_ERR_HEADERS_TIMEOUT':
      return fail('timeout-first-byte', 'upstream sent no response headers in time');
    case 'UND_ERR_BODY_TIMEOUT':
      return fail('timeout-idle', 'upstream went silent mid-response');
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return fail('malformed', `upstream response malformed (${code})`);
  }
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return fail('malformed', `upstream response malformed (${code})`);
  }
  const codeText = typeof code === 'string' ? ` (${code})` : '';
  if (phase === 'headers' && typeof code === 'string' && isUnreachable(code))
    return fail('connect', `upstream connection failed${codeText}`);
  if (phase === 'headers') {
    // A reset or a closed socket: the upstream took the connection, then hung up on this request.
    return {
      ...fail('connect', `upstream closed the connection before answering${codeText}`),
      reached: true,
    };
  }
  // The channel was reachable: breakers must not read this as a connect failure.
  return {
    ...fail('connect', `upstream connection dropped mid-response${codeText}`),
    midResponse: true,
  };
}

/** Refused, DNS, routing and TLS failures: no connection to the upstream could be made. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);
const TLS_PREFIXES = ['ERR_TLS_', 'ERR_SSL_', 'ERR_OSSL_', 'CERT_', 'UNABLE_TO_'];

function isUnreachable(code: string): boolean {
  return UNREACHABLE.has(code) || TLS_PREFIXES.some((p) => code.startsWith(p));
}
