import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../app/src/routing/backoff.ts';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../../app/src/core/retry-after.ts';

describe('backoffDelay (full jitter)', () => {
  const opts = { baseMs: 100, capMs: 1_000 };

  it('scales the ceiling by 2^retry and draws uniformly below it', () => {
    expect(backoffDelay(0, opts, () => 0)).toBe(0);
    expect(backoffDelay(0, opts, () => 0.5)).toBe(50);
    expect(backoffDelay(1, opts, () => 0.5)).toBe(100);
    expect(backoffDelay(2, opts, () => 0.5)).toBe(200);
    expect(backoffDelay(2, opts, () => 0.999_999)).toBe(399);
  });

  it('never exceeds the cap, even for huge retry counts', () => {
    for (const retry of [4, 10, 100, 10_000]) {
      expect(backoffDelay(retry, opts, () => 0.999_999)).toBeLessThan(1_000);
      expect(backoffDelay(retry, opts, () => 0.5)).toBe(500);
    }
  });

  it('clamps a misbehaving random source into range', () => {
    expect(backoffDelay(1, opts, () => -3)).toBe(0);
    expect(backoffDelay(1, opts, () => 7)).toBe(200);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');

  it('reads retry-after-ms first', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '1500', 'retry-after': '9' }, now)).toBe(1500);
    expect(parseRetryAfter({ 'Retry-After-Ms': '12.2' }, now)).toBe(13);
  });

  it('reads retry-after seconds (integer or decimal)', () => {
    expect(parseRetryAfter({ 'retry-after': '2' }, now)).toBe(2000);
    expect(parseRetryAfter({ 'retry-after': ' 0.25 ' }, now)).toBe(250);
    expect(parseRetryAfter(new Headers({ 'Retry-After': '3' }), now)).toBe(3000);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter({ 'retry-after': 'Sun, 22 Nov 2026 10:00:30 GMT' }, now)).toBe(30_000);
    expect(parseRetryAfter({ 'retry-after': 'Sun, 22 Nov 2026 09:59:00 GMT' }, now)).toBe(0);
  });

  it('caps every form', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '90000' }, now, 10_000)).toBe(10_000);
    expect(parseRetryAfter({ 'retry-after': '3600' }, now, 10_000)).toBe(10_000);
    expect(parseRetryAfter({ 'retry-after': 'Mon, 23 Nov 2026 10:00:00 GMT' }, now, 10_000)).toBe(
      10_000,
    );
    expect(parseRetryAfter({ 'retry-after': '99999999999' }, now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('ignores garbage and absence', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '-5' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '1e3' }, now)).toBeUndefined();
    expect(
      parseRetryAfter({ 'retry-after': 'Foo, 99 Bar 2026 99:99:99 GMT' }, now),
    ).toBeUndefined();
    // A broken retry-after-ms falls through to retry-after instead of winning.
    expect(parseRetryAfter({ 'retry-after-ms': 'NaN', 'retry-after': '1' }, now)).toBe(1000);
  });

  it('takes the first value of a repeated header', () => {
    expect(parseRetryAfter({ 'retry-after': ['4', '8'] }, now)).toBe(4000);
  });
});
