import { beforeAll, describe, expect, it } from 'vitest';
import type { UsageRow } from '../../../app/src/store/types.ts';
import { SettableClock, adminApp, usageRow } from '../../fixtures/admin-app.ts';
import type { AdminApp } from '../../fixtures/admin-app.ts';

const at = (iso: string) => Date.parse(iso);

const row = usageRow;

const FORMULA_MODEL = '=HYPERLINK("http://evil.example","x")';

/** Four requests on two days: cache and reasoning tokens, a 502, a 404 with a hostile model name. */
function seed(a: AdminApp, clock: SettableClock) {
  const put = (iso: string, over: Partial<UsageRow>) => {
    clock.set(at(iso));
    a.store.recordUsage(row(over));
  };
  put('2026-11-20T10:00:00Z', {
    requestId: 'req_first',
    promptTokens: 1000,
    cacheReadTokens: 400,
    cacheWrite5mTokens: 100,
    cacheWrite1hTokens: 50,
    completionTokens: 200,
    reasoningTokens: 80,
    costMicros: 5000,
    latencyMs: 800,
    ttfbMs: 300,
  });
  put('2026-11-22T09:30:00Z', {
    requestId: 'req_second',
    model: 'claude-x',
    channel: 'ch-b',
    promptTokens: 500,
    completionTokens: 100,
    costMicros: 2000,
    latencyMs: 400,
    ttfbMs: 100,
  });
  put('2026-11-22T09:45:00Z', {
    requestId: 'req_third',
    keyId: 2,
    keyName: 'bob',
    status: 502,
    latencyMs: 1200,
    ttfbMs: null,
    source: 'none',
    errorCode: 'upstream_error',
    errorMessage: 'Upstream failed with HTTP 500: boom',
  });
  put('2026-11-22T09:59:30Z', {
    requestId: 'req_fourth',
    keyId: 2,
    keyName: 'bob',
    model: FORMULA_MODEL,
    upstreamModel: null,
    channel: null,
    status: 404,
    latencyMs: 3,
    ttfbMs: null,
    source: 'none',
    errorCode: 'model_not_found',
    errorMessage: `The model \`${FORMULA_MODEL}\` does not exist.`,
  });
  clock.set(at('2026-11-22T10:00:00Z'));
}

describe('usage reports, requests and the overview', () => {
  const clock = new SettableClock(at('2026-11-22T10:00:00Z'));
  let a: AdminApp;

  beforeAll(() => {
    a = adminApp({}, {}, clock);
    seed(a, clock);
  });

  it('sums requests, tokens (cache and reasoning included) and cost per key from the daily rollups', async () => {
    const res = await a.call('GET', '/usage?groupBy=key');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      from: '2026-10-24',
      to: '2026-11-22',
      timeZone: 'UTC',
      groupBy: 'key',
    });
    expect(res.json.rows).toEqual([
      {
        group: 'alice',
        requests: 2,
        errors: 0,
        serverErrors: 0,
        promptTokens: 1500,
        completionTokens: 300,
        cacheReadTokens: 400,
        cacheWrite5mTokens: 100,
        cacheWrite1hTokens: 50,
        reasoningTokens: 80,
        costUsd: 0.007,
        avgLatencyMs: 600,
        avgTtfbMs: 200,
      },
      expect.objectContaining({
        group: 'bob',
        requests: 2,
        errors: 2,
        serverErrors: 1,
        costUsd: 0,
      }),
    ]);
    expect(res.json.total).toMatchObject({
      group: '',
      requests: 4,
      errors: 2,
      costUsd: 0.007,
      promptTokens: 1500,
    });
  });

  it('groups by model, channel and day, filters, and keeps to the range', async () => {
    const byModel = (await a.call('GET', '/usage?groupBy=model')).json.rows;
    expect(byModel.map((r: { group: string }) => r.group)).toEqual([
      'gpt-4o',
      'claude-x',
      FORMULA_MODEL,
    ]);
    const byChannel = (await a.call('GET', '/usage?groupBy=channel')).json.rows;
    expect(
      byChannel.map((r: { group: string; requests: number }) => [r.group, r.requests]),
    ).toEqual([
      ['ch-a', 2],
      ['ch-b', 1],
      ['', 1],
    ]);
    const byDay = (await a.call('GET', '/usage?groupBy=day&key=alice')).json.rows;
    expect(byDay.map((r: { group: string; costUsd: number }) => [r.group, r.costUsd])).toEqual([
      ['2026-11-20', 0.005],
      ['2026-11-22', 0.002],
    ]);
    const recent = (await a.call('GET', '/usage?groupBy=day&from=2026-11-21&to=2026-11-22')).json
      .rows;
    expect(recent.map((r: { group: string }) => r.group)).toEqual(['2026-11-22']);
    const one = (await a.call('GET', '/usage?groupBy=model&channel=ch-a&model=gpt-4o')).json.rows;
    expect(one).toHaveLength(1);
    expect(one[0].requests).toBe(2);
  });

  it('refuses a backwards or malformed range with the field named', async () => {
    const backwards = await a.call('GET', '/usage?from=2026-11-22&to=2026-11-01');
    expect(backwards.status).toBe(400);
    expect(backwards.json.error.param).toBe('from');
    const bad = await a.call('GET', '/usage?from=2026-13-45');
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('from');
    expect((await a.call('GET', '/usage?groupBy=weekday')).json.error.param).toBe('groupBy');
    expect((await a.call('GET', '/usage?from=2020-01-01&to=2026-01-01')).status).toBe(400);
    const requests = await a.call('GET', '/requests?from=2026-11-22&to=2026-11-01');
    expect(requests.status).toBe(400);
    expect(requests.json.error).toMatchObject({ param: 'from' });
  });

  it('exports the raw rows as CSV, cache and reasoning columns and error text included, formulas defused', async () => {
    const res = await a.call('GET', '/usage/export.csv?from=2026-11-20&to=2026-11-22');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="usage-2026-11-20-to-2026-11-22.csv"',
    );
    const lines = res.text.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'time,request_id,key,endpoint,model,upstream_model,channel,status,prompt_tokens,completion_tokens,cache_read_tokens,cache_write_5m_tokens,cache_write_1h_tokens,reasoning_tokens,cost_usd,latency_ms,ttfb_ms,source,error_code,error_message',
    );
    expect(lines).toHaveLength(5);
    expect(lines[1]).toBe(
      '2026-11-20T10:00:00.000Z,req_first,alice,/chat/completions,gpt-4o,gpt-4o,ch-a,200,1000,200,400,100,50,80,0.005,800,300,upstream,,',
    );
    expect(lines[3]).toContain(',upstream_error,Upstream failed with HTTP 500: boom');
    // A spreadsheet must not run a model name a client chose.
    expect(lines[4]).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(res.text).not.toMatch(/(^|,)=HYPERLINK/m);

    const bob = await a.call('GET', '/usage/export.csv?from=2026-11-20&key=bob');
    expect(bob.text.trimEnd().split('\n')).toHaveLength(3);
    const empty = await a.call('GET', '/usage/export.csv?from=2026-01-01&to=2026-01-02');
    expect(empty.text.trimEnd().split('\n')).toHaveLength(1);
  });

  it('lists requests newest first, by id, key, status, with the error each one got, page by page', async () => {
    const all = await a.call('GET', '/requests');
    expect(all.json.rows.map((r: { requestId: string }) => r.requestId)).toEqual([
      'req_fourth',
      'req_third',
      'req_second',
      'req_first',
    ]);
    expect(all.json.rows[1]).toMatchObject({
      key: 'bob',
      status: 502,
      errorCode: 'upstream_error',
      errorMessage: 'Upstream failed with HTTP 500: boom',
      at: '2026-11-22T09:45:00.000Z',
    });
    expect(all.json.rows[3]).toMatchObject({
      cacheReadTokens: 400,
      reasoningTokens: 80,
      costUsd: 0.005,
    });
    const byId = (await a.call('GET', '/requests?requestId=req_second')).json.rows;
    expect(byId.map((r: { model: string }) => r.model)).toEqual(['claude-x']);
    const errors = (await a.call('GET', '/requests?status=error')).json.rows;
    expect(errors.map((r: { status: number }) => r.status)).toEqual([404, 502]);
    expect((await a.call('GET', '/requests?status=502')).json.rows).toHaveLength(1);
    expect((await a.call('GET', '/requests?key=alice&status=ok')).json.rows).toHaveLength(2);
    const since = (
      await a.call('GET', '/requests?from=2026-11-22T09:40:00Z&to=2026-11-22T09:50:00Z')
    ).json.rows;
    expect(since.map((r: { requestId: string }) => r.requestId)).toEqual(['req_third']);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await a.call('GET', `/requests?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.json.rows.map((r: { requestId: string }) => r.requestId));
      cursor = res.json.next;
      if (!cursor) break;
    }
    expect(seen).toEqual(['req_fourth', 'req_third', 'req_second', 'req_first']);
    expect((await a.call('GET', '/requests?status=teapot')).status).toBe(400);
    expect((await a.call('GET', '/requests?limit=100000')).status).toBe(400);
  });

  it('shows the last hour, today, this month, 30 days and the top models and keys', async () => {
    const res = await a.call('GET', '/overview');
    expect(res.status).toBe(200);
    const o = res.json;
    expect(o).toMatchObject({
      now: '2026-11-22T10:00:00.000Z',
      today: '2026-11-22',
      timeZone: 'UTC',
    });
    expect(o.live).toMatchObject({
      windowMinutes: 60,
      requests: 3,
      rpm: 1,
      errorRate: 1 / 3,
      clientErrorRate: 1 / 3,
      latencyMs: { p50: 400, p99: 400 },
      ttftMs: { p50: 100, p99: 100 },
    });
    expect(o.live.perMinute).toHaveLength(60);
    expect(o.live.perMinute.reduce((s: number, b: { requests: number }) => s + b.requests, 0)).toBe(
      3,
    );
    expect(o.spend).toEqual({ todayUsd: 0.002, monthUsd: 0.007 });
    expect(o.requests).toEqual({ today: 3, month: 4 });
    expect(o.daily).toHaveLength(30);
    expect(o.daily.at(-1)).toEqual({ day: '2026-11-22', requests: 3, costUsd: 0.002 });
    expect(o.daily.at(-3)).toEqual({ day: '2026-11-20', requests: 1, costUsd: 0.005 });
    expect(o.topModels[0]).toEqual({ name: 'claude-x', requests: 1, costUsd: 0.002 });
    expect(o.topKeys.map((k: { name: string }) => k.name)).toEqual(['alice', 'bob']);
  });
});

describe('usage in the configured time zone', () => {
  it('counts a request at 17:00 UTC on the next day in Shanghai, and exports by Shanghai days', async () => {
    const clock = new SettableClock(at('2026-11-22T17:00:00Z'));
    const a = adminApp({ usage: { timeZone: 'Asia/Shanghai' } }, {}, clock);
    a.store.recordUsage(row({ requestId: 'req_late', costMicros: 1000 }));
    const days = (await a.call('GET', '/usage?groupBy=day')).json;
    expect(days.timeZone).toBe('Asia/Shanghai');
    expect(days.to).toBe('2026-11-23');
    expect(days.rows.map((r: { group: string }) => r.group)).toEqual(['2026-11-23']);
    expect((await a.call('GET', '/overview')).json.spend.todayUsd).toBe(0.001);
    const csv = (await a.call('GET', '/usage/export.csv?from=2026-11-23&to=2026-11-23')).text;
    expect(csv).toContain('req_late');
    expect(
      (await a.call('GET', '/usage/export.csv?from=2026-11-22&to=2026-11-22')).text,
    ).not.toContain('req_late');
  });

  it('refuses a zone that does not exist', async () => {
    expect(() => adminApp({ usage: { timeZone: 'Mars/Olympus' } })).toThrow(
      /usage.timeZone: must be an IANA time zone/,
    );
  });
});

describe('CSV export of many rows', () => {
  it('streams batch by batch and never drops a row', async () => {
    const clock = new SettableClock(at('2026-11-22T10:00:00Z'));
    const a = adminApp({}, {}, clock);
    for (let i = 0; i < 2_500; i++) {
      clock.set(at('2026-11-22T00:00:00Z') + i * 1000);
      a.store.recordUsage(row({ requestId: `req_${String(i).padStart(5, '0')}` }));
    }
    clock.set(at('2026-11-22T10:00:00Z'));
    const res = await a.app.request('/admin/api/usage/export.csv?from=2026-11-22', {
      headers: { authorization: 'Bearer admin-key-0123456789abcdef' },
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let chunks = 0;
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      text += decoder.decode(value, { stream: true });
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    const ids = text
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[1]);
    expect(ids).toHaveLength(2_500);
    expect(new Set(ids).size).toBe(2_500);
    expect(ids[0]).toBe('req_00000');
    expect(ids.at(-1)).toBe('req_02499');
  });
});
