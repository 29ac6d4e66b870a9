import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProcStat, stealPct } from '../../bench/host-steal.ts';
import { ownTimeByScenario, summarizeRelayLog } from '../../bench/relay-log.ts';

// /proc/stat as Linux 6 writes it: the aggregate line, then one per CPU. Fields: user nice
// system idle iowait irq softirq steal guest guest_nice; guest time is already inside user.
const statAt = (cpu0: number[], cpu1: number[]) =>
  [
    `cpu  ${cpu0.map((x, i) => x + cpu1[i]!).join(' ')}`,
    `cpu0 ${cpu0.join(' ')}`,
    `cpu1 ${cpu1.join(' ')}`,
    'intr 1 2 3',
    'ctxt 99',
  ].join('\n');

describe("the bench's reading of hypervisor steal", () => {
  const before = parseProcStat(
    statAt([100, 0, 50, 800, 0, 0, 10, 40, 30, 0], [10, 0, 5, 980, 0, 0, 0, 5, 0, 0]),
  );
  // cpu0: 1,000 ticks later, 20 of them stolen (softirq moved by 35, guest by 300 inside user's
  // 400, and neither counts); cpu1: 3,000 ticks later, 90 stolen.
  const after = parseProcStat(
    statAt([500, 0, 150, 1245, 0, 0, 45, 60, 330, 0], [1010, 0, 5, 2890, 0, 0, 0, 95, 0, 0]),
  );

  it('gives each CPU its own share of steal, and leaves the aggregate line out', () => {
    expect([...before.keys()]).toEqual([0, 1]);
    expect(stealPct(before, after, [0])).toBeCloseTo(2, 9);
    expect(stealPct(before, after, [1])).toBeCloseTo(3, 9);
  });

  it('pools the ticks of the CPUs asked for (all of them by default), not their shares', () => {
    // 110 of 4,000 ticks: 2.75 %, where the mean of the two shares would be 2.5 %.
    expect(stealPct(before, after)).toBeCloseTo(2.75, 9);
    expect(stealPct(before, after, [0, 1])).toBeCloseTo(2.75, 9);
  });

  it('says NaN for a CPU it never read, or no time passed', () => {
    expect(stealPct(before, after, [2])).toBeNaN();
    expect(stealPct(before, before, [0])).toBeNaN();
    expect(stealPct(new Map(), new Map())).toBeNaN();
  });
});

describe("the bench's reading of the relay's log", () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const line = (time: number, relayMs?: number, status = 200) =>
    JSON.stringify({
      level: status >= 499 ? 'warn' : 'info',
      time,
      requestId: `req_${time}`,
      status,
      ...(relayMs === undefined ? {} : { relayMs }),
      msg: 'request',
    });

  it("puts each request's own time in the run it was written in, and none outside", async () => {
    const path = join(dir, 'relay.log');
    writeFileSync(
      path,
      [
        JSON.stringify({ level: 'info', time: 900, msg: 'listening' }),
        line(999, 9.9), // before the first run
        line(1000, 0.05),
        line(1500, 0.07),
        line(2000, 0.5), // the first run's last millisecond
        line(2500, 8.8), // between runs
        line(3000, 0.2),
        line(3100), // a line without relayMs (a request refused before timing) counts nowhere
        line(3200, 0.3, 499),
        line(9000, 7.7), // after the last run
        '',
      ].join('\n'),
    );
    const s = await summarizeRelayLog(path, [
      { from: 1000, to: 2000 },
      { from: 3000, to: 4000 },
    ]);
    expect(s.relayMs).toEqual([
      [0.05, 0.07, 0.5],
      [0.2, 0.3],
    ]);
    expect(s.requestLines).toBe(9);
    expect(s.clientClosed).toBe(1);
  });

  it('reads no own times when asked for no runs', async () => {
    const path = join(dir, 'plain.log');
    writeFileSync(path, `${line(1000, 0.05)}\n`);
    const s = await summarizeRelayLog(path);
    expect(s.relayMs).toEqual([]);
    expect(s.requestLines).toBe(1);
  });
});

describe("the bench's table of the relay's own time", () => {
  it("pools each scenario's repetitions, in the order scenarios first appear", () => {
    const rows = ownTimeByScenario(
      ['chat, 1 conn.', 'chat, 10 conn.', 'chat, 1 conn.'],
      [[0.3, 0.1], [0.02], [0.2, 0.4]],
    );
    expect(rows.map((r) => [r.scenario, r.requests, r.p50, r.max])).toEqual([
      ['chat, 1 conn.', 4, 0.2, 0.4],
      ['chat, 10 conn.', 1, 0.02, 0.02],
    ]);
  });

  it('says NaN for a scenario whose runs logged no request', () => {
    const [row] = ownTimeByScenario(['stream, 1 conc.'], [[]]);
    expect(row).toMatchObject({ requests: 0, p50: NaN, p99: NaN, max: NaN });
  });
});
