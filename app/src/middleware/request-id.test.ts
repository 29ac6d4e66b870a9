import { describe, expect, it } from 'vitest';
import { newRequestId, timeOrderedId } from './request-id.ts';

describe('timeOrderedId', () => {
  it('is a UUIDv7 without dashes: the milliseconds, version 7, RFC variant, random rest', () => {
    const at = 0x0193_9add_1380;
    // Past two refills of the random pool (409 ids each).
    const ids = Array.from({ length: 1_000 }, () => timeOrderedId(at));
    for (const id of ids) expect(id).toMatch(/^01939add13807[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sorts by time across milliseconds, whatever the random part', () => {
    const ids = [5, 4096, 4097, 2 ** 40].map((ms) => timeOrderedId(ms));
    expect([...ids].sort()).toEqual(ids);
    expect(timeOrderedId(4096).slice(0, 12)).toBe('000000001000');
  });

  it('prefixes the request id', () => {
    expect(newRequestId()).toMatch(/^req_[0-9a-f]{12}7[0-9a-f]{19}$/);
  });
});
