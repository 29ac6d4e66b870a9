import { describe, expect, it } from 'vitest';
import { attributeFailure, type BreakerTarget } from '../../../app/src/routing/attribution.ts';
import type { UpstreamFailure } from '../../../app/src/core/failure.ts';

type F = Pick<UpstreamFailure, 'kind' | 'status' | 'midResponse' | 'reached'>;

describe('attributeFailure', () => {
  it.each<[F, BreakerTarget, BreakerTarget]>([
    [{ kind: 'connect' }, 'connection', 'model'],
    [{ kind: 'connect', midResponse: true }, 'model', 'model'],
    [{ kind: 'connect', reached: true }, 'model', 'model'],
    [{ kind: 'timeout-connect' }, 'connection', 'connection'],
    [{ kind: 'http-status', status: 500 }, 'model', 'model'],
    [{ kind: 'http-status', status: 503 }, 'model', 'model'],
    [{ kind: 'http-status', status: 429 }, 'model', 'model'],
    [{ kind: 'http-status', status: 400 }, 'none', 'none'],
    [{ kind: 'http-status', status: 422 }, 'none', 'none'],
    [{ kind: 'http-status', status: 403 }, 'model', 'model'],
    [{ kind: 'timeout-first-byte' }, 'model', 'model'],
    [{ kind: 'timeout-idle' }, 'model', 'model'],
    [{ kind: 'malformed' }, 'model', 'model'],
    [{ kind: 'stream-error' }, 'model', 'model'],
    [{ kind: 'model', status: 404 }, 'model', 'model'],
    [{ kind: 'auth', status: 401 }, 'dead', 'dead'],
    [{ kind: 'insufficient-quota', status: 402 }, 'dead', 'dead'],
    [{ kind: 'aborted' }, 'none', 'none'],
  ])('%o: %s before content, %s after', (failure, before, after) => {
    expect(attributeFailure(failure, false)).toBe(before);
    expect(attributeFailure(failure, true)).toBe(after);
  });
});
