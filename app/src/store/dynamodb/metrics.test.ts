import { describe, expect, it } from 'vitest';
import { storeEventMetrics } from './metrics.ts';

describe('storeEventMetrics', () => {
  it('sums store events into one EMF line a minute, and says nothing when nothing happened', () => {
    const lines: { obj: Record<string, unknown>; msg: string; level: string }[] = [];
    const logger = {
      info: (obj: object, msg: string) =>
        lines.push({ obj: obj as Record<string, unknown>, msg, level: 'info' }),
      warn: (obj: object, msg: string) =>
        lines.push({ obj: obj as Record<string, unknown>, msg, level: 'warn' }),
    };
    const metrics = storeEventMetrics(logger as never, { now: () => 1234 });
    metrics.flush();
    expect(lines).toEqual([]);
    metrics.record({ kind: 'ledger-conflict', keyId: 1, op: 'settle' });
    metrics.record({ kind: 'ledger-conflict', keyId: 1, op: 'settle' });
    metrics.record({ kind: 'hold-expired', keyId: 1, micros: 5 });
    metrics.record({ kind: 'counter-failed', op: 'rollup', error: 'ThrottlingException' });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'a store counter was not written'],
    ]);
    metrics.stop();
    expect(lines[1]!.obj).toMatchObject({
      _aws: {
        Timestamp: 1234,
        CloudWatchMetrics: [{ Namespace: 'LlmRelay', Dimensions: [['Service']] }],
      },
      Service: 'llm-relay',
      LedgerConflicts: 2,
      ExpiredHolds: 1,
      StoreCounterFailures: 1,
    });
    metrics.flush();
    expect(lines).toHaveLength(2);
  });
});
