import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { defuse } from '../../../app/src/admin/usage.ts';
import {
  EXPORT_STEP,
  LATENCY_SAMPLE,
  REQUESTS_SCAN_BUDGET,
} from '../../../app/src/store/sqlite-usage-queries.ts';
import { FILTER_INDEX_NAMES } from '../../../app/src/store/sqlite-usage-scan.ts';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { UsageRow } from '../../../app/src/store/types.ts';
import { ADMIN_KEY, SettableClock, adminApp, usageRow } from '../../fixtures/admin-app.ts';

const START = Date.parse('2026-11-22T00:00:00Z');

const row = usageRow;

interface Page {
  rows: { requestId: string }[];
  next: string | null;
}

/**
 * One rare row (alice on "rare-model", the oldest) under more of alice's common rows than one
 * page may look at, and bob's rows in between.
 */
function busyApp() {
  const clock = new SettableClock(START);
  const a = adminApp({}, {}, clock);
  const put = (i: number, over: Partial<UsageRow>) => {
    clock.set(START + i * 10);
    a.store.recordUsage(row(over));
  };
  put(0, { requestId: 'req_rare', model: 'rare-model' });
  const common = REQUESTS_SCAN_BUDGET + 500;
  for (let i = 1; i <= common; i++) put(i, { requestId: `req_${i}` });
  put(common + 1, { requestId: 'req_bob', keyId: 2, keyName: 'bob', status: 429 });
  clock.set(START + 3_600_000);
  return a;
}

async function walk(a: ReturnType<typeof adminApp>, query: string, maxPages = 10) {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const res = await a.call('GET', `/requests?${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    pages.push(res.json as Page);
    cursor = res.json.next;
  } while (cursor && pages.length < maxPages);
  return pages;
}

describe('requests with filters that match rarely', () => {
  const a = busyApp();

  it('looks at a bounded window per page and hands back a cursor to search further', async () => {
    const pages = await walk(a, 'key=alice&model=rare-model');
    // The first window holds only common rows: an empty page that says where to go on.
    expect(pages[0]!.rows).toEqual([]);
    expect(pages[0]!.next).toMatch(/^\d+\.\d+$/);
    expect(pages.flatMap((p) => p.rows.map((r) => r.requestId))).toEqual(['req_rare']);
    expect(pages.at(-1)!.next).toBeNull();
    expect(pages.length).toBeLessThanOrEqual(3);
  });

  it('finds a rare value of one filter at once through its own index', async () => {
    const [page] = await walk(a, 'model=rare-model', 1);
    expect(page!.rows.map((r) => r.requestId)).toEqual(['req_rare']);
    // Everything found and nothing left: no cursor to an empty page.
    expect(page!.next).toBeNull();
    const [full] = await walk(a, 'key=bob&limit=1', 1);
    expect(full).toMatchObject({ rows: [{ requestId: 'req_bob' }], next: null });
    const [bob] = await walk(a, 'status=429', 1);
    expect(bob!.rows.map((r) => r.requestId)).toEqual(['req_bob']);
    const [errors] = await walk(a, 'status=error', 1);
    expect(errors!.rows.map((r) => r.requestId)).toEqual(['req_bob']);
  });

  it('pages through the common rows without losing or repeating one', async () => {
    const pages = await walk(a, 'key=alice&limit=500', 20);
    const ids = pages.flatMap((p) => p.rows.map((r) => r.requestId));
    expect(ids).toHaveLength(REQUESTS_SCAN_BUDGET + 501);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.at(-1)).toBe('req_rare');
  });

  it('refuses a cursor it did not hand out', async () => {
    for (const path of ['/requests?cursor=abc', '/requests?cursor=1.2.3', '/audit?cursor=x']) {
      const res = await a.call('GET', path);
      expect(res.status).toBe(400);
      expect(res.json.error.param).toBe('cursor');
    }
  });
});

describe('the filter indexes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-scan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are added when a database from before them is opened', () => {
    const path = join(dir, 'old.db');
    new SqliteStore({ path }).close();
    const db = new DatabaseSync(path);
    for (const name of FILTER_INDEX_NAMES) db.exec(`DROP INDEX ${name}`);
    const names = () =>
      (db.prepare('PRAGMA index_list(usage)').all() as { name: string }[]).map((i) => i.name);
    expect(names()).not.toContain('usage_key_name_time');
    new SqliteStore({ path }).close();
    expect(names()).toEqual(expect.arrayContaining([...FILTER_INDEX_NAMES]));
    db.close();
  });
});

describe('CSV export', () => {
  it('hands the event loop back between bounded steps', async () => {
    const clock = new SettableClock(START);
    const a = adminApp({}, {}, clock);
    const rows = EXPORT_STEP * 6;
    for (let i = 0; i < rows; i++) {
      clock.set(START + i * 1000);
      a.store.recordUsage(row({ requestId: `req_${String(i).padStart(5, '0')}` }));
    }
    clock.set(START + 86_400_000 - 1);
    // Turns of the event loop that other requests got while the export ran.
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const res = await a.app.request('/admin/api/usage/export.csv?from=2026-11-22', {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    const text = await res.text();
    running = false;
    expect(text.trimEnd().split('\n')).toHaveLength(rows + 1);
    expect(turns).toBeGreaterThanOrEqual(rows / EXPORT_STEP - 1);
  });

  it('defuses cells a spreadsheet would run as formulas, after leading blanks too', () => {
    for (const hostile of [
      '=1+1',
      '+1',
      '-1+2',
      '@SUM(A1)',
      '\t=1',
      '\r=1',
      '  =cmd|x',
      ' \u00a0@x',
      '\uff1d1',
      '\tplain',
    ]) {
      expect(defuse(hostile)).toBe(`'${hostile}`);
    }
    for (const fine of ['gpt-4o', 'a=b', 'claude-3-5', null]) expect(defuse(fine)).toBe(fine);
  });

  it('keeps the defused text in the exported file', async () => {
    const clock = new SettableClock(START);
    const a = adminApp({}, {}, clock);
    a.store.recordUsage(
      row({ requestId: 'req_x', model: '  =HYPERLINK("http://x")', errorMessage: '-2+3' }),
    );
    const csv = (await a.call('GET', '/usage/export.csv?from=2026-11-22&to=2026-11-22')).text;
    expect(csv).toContain(`"'  =HYPERLINK(""http://x"")"`);
    expect(csv).toContain(`,'-2+3`);
  });
});

describe('the overview of a busy hour', () => {
  it('counts every request and takes latency percentiles from the newest successes only', async () => {
    const clock = new SettableClock(START);
    const a = adminApp({}, {}, clock);
    const old = 500;
    for (let i = 0; i < old + LATENCY_SAMPLE; i++) {
      clock.set(START + 60_000 + i * 100);
      a.store.recordUsage(usageRow({ latencyMs: i < old ? 9_000 : 100, ttfbMs: 50 }));
    }
    clock.set(START + 60_000 + (old + LATENCY_SAMPLE) * 100);
    const live = (await a.call('GET', '/overview')).json.live;
    expect(live.requests).toBe(old + LATENCY_SAMPLE);
    expect(live.perMinute.reduce((n: number, b: { requests: number }) => n + b.requests, 0)).toBe(
      old + LATENCY_SAMPLE,
    );
    expect(live.latencyMs).toEqual({ p50: 100, p99: 100 });
  });
});
