import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { createLogger } from '../logger.ts';
import { HANDOVER_LAPSE_MS, HANDOVER_RENEW_MS, openRelaySqliteStore } from './relay-join.ts';
import { RelayLock } from './relay-lock.ts';
import { SqliteStore } from './sqlite.ts';
import { usageRow } from '../../../test/fixtures/usage-row.ts';

const LEASE = 60_000;

const row = (keyId: number, costMicros: number) => usageRow({ keyId, keyName: 'k', costMicros });

/** A real logger whose lines are kept, parsed. */
function logged() {
  const lines: { msg: string; err?: { message: string } }[] = [];
  const logger = createLogger({
    destination: { write: (line) => void lines.push(JSON.parse(line)) },
  });
  return { lines, logger };
}

/** Whether a hold of `micros` fits now; a hold taken to see is given back. */
async function fits(r: SqliteStore, keyId: number, micros: number): Promise<boolean> {
  const hold = await r.ledger.reserve(keyId, micros, LEASE);
  if (hold) await r.ledger.release(hold);
  return hold !== null;
}

/** Another connection's commit counts within KeyMoneyCache's poll: asked again, never slept on. */
async function eventually(done: () => Promise<boolean>, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !(await done()); await sleep(1)) {
    if (Date.now() > end) throw new Error('timed out');
  }
}

async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !done(); await sleep(10)) {
    if (Date.now() > end) throw new Error('timed out');
  }
}

/** Relays (openRelaySqliteStore, as the server opens them) and plain handles (the keys CLI). */
describe('quota holds in memory, for the only relay on a SQLite file', () => {
  const dirs: string[] = [];
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const close of closers.splice(0).reverse()) close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function file() {
    const dir = mkdtempSync(join(tmpdir(), 'holds-in-memory-'));
    dirs.push(dir);
    const path = join(dir, 'relay.db');
    const cli = () => {
      const s = new SqliteStore({ path });
      closers.push(() => s.closeNow());
      return s;
    };
    const relay = async (
      kind: 'single' | 'worker' = 'single',
      waitMs?: number,
      logger?: ReturnType<typeof createLogger>,
    ) => {
      const s = await openRelaySqliteStore({ path, ...(logger && { logger }) }, kind, waitMs);
      closers.push(() => s.closeNow());
      return s;
    };
    const keyId = cli().createKey({ name: 'k', quotaUsd: 0.001 }).record.id;
    return { path, cli, relay, keyId };
  }

  it('keeps holds off the file, shows them in its own views, and never passes the quota', async () => {
    const { cli, relay, keyId } = file();
    const r = await relay();
    expect(r.holdsInMemory).toBe(true);
    const holds = await Promise.all(
      Array.from({ length: 20 }, () => r.ledger.reserve(keyId, 300, LEASE)),
    );
    expect(holds.filter((h) => h !== null)).toHaveLength(3);
    expect(r.getKey('k')).toMatchObject({ reservedMicros: 900, usedMicros: 0 });
    expect(cli().getKey('k')).toMatchObject({ reservedMicros: 0 });
  });

  it('counts a settlement decided but not yet committed, so a hold cannot take its money', async () => {
    const { cli, relay, keyId } = file();
    const r = await relay();
    const hold = (await r.ledger.reserve(keyId, 600, LEASE))!;
    // Not awaited: the charge is decided now, its commit waits for the next turn.
    const settled = r.ledger.settle(hold, row(keyId, 600));
    expect(cli().getKey('k')!.usedMicros).toBe(0);
    expect(r.getKey('k')).toMatchObject({ usedMicros: 600, reservedMicros: 0 });
    expect(await r.ledger.reserve(keyId, 401, LEASE)).toBeNull();
    await settled;
    expect(cli().getKey('k')!.usedMicros).toBe(600);
    expect(await r.ledger.reserve(keyId, 401, LEASE)).toBeNull();
    expect(await r.ledger.reserve(keyId, 400, LEASE)).not.toBeNull();
  });

  it('sees a top-up or a quota edit made by the keys CLI', async () => {
    const { cli, relay, keyId } = file();
    const r = await relay();
    expect(await r.ledger.reserve(keyId, 1000, LEASE)).not.toBeNull();
    expect(await fits(r, keyId, 500)).toBe(false);
    cli().topUp('k', 0.0005);
    await eventually(() => fits(r, keyId, 500));
    cli().updateKey('k', { quotaUsd: 0.0001 });
    await eventually(async () => !(await fits(r, keyId, 1)));
  });

  it("sees spend written by another connection, whatever it knew of the key's money", async () => {
    const { path, relay, keyId } = file();
    const r = await relay();
    const hold = (await r.ledger.reserve(keyId, 300, LEASE))!;
    await r.ledger.settle(hold, row(keyId, 300));
    const other = new DatabaseSync(path);
    other.exec('PRAGMA busy_timeout = 5000');
    other.prepare('UPDATE keys SET used_micros = used_micros + 600 WHERE id = ?').run(keyId);
    other.close();
    await eventually(async () => !(await fits(r, keyId, 101)));
    expect(await fits(r, keyId, 100)).toBe(true);
  });

  it('sees a quota edit, top-up or deletion through its own admin API from the next call on', async () => {
    const { relay, keyId } = file();
    const r = await relay();
    expect(await r.ledger.reserve(keyId, 600, LEASE)).not.toBeNull();
    r.updateKey('k', { quotaUsd: 0.0007 });
    expect(await r.ledger.reserve(keyId, 101, LEASE)).toBeNull();
    r.topUp('k', 0.0001);
    expect(await r.ledger.reserve(keyId, 200, LEASE)).not.toBeNull();
    r.deleteKey('k');
    expect(await r.ledger.reserve(keyId, 1, LEASE)).toBeNull();
  });

  it('keeps the settlements a busy file refused and writes them once its lock is free', async () => {
    const { path, cli, relay, keyId } = file();
    const { lines, logger } = logged();
    const r = await relay('single', undefined, logger);
    const hold = (await r.ledger.reserve(keyId, 300, LEASE))!;
    // Another process holds the write lock past busy_timeout (5 s): the first commit gives up.
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    const settled = r.ledger.settle(hold, row(keyId, 300));
    await until(() => lines.some((l) => l.msg.startsWith('the database is busy')), 10_000);
    // Its charge still counts while it waits: no hold can take that money.
    expect(await r.ledger.reserve(keyId, 701, LEASE)).toBeNull();
    // A usage read does not wait for the lock (up to a minute): it shows what is committed.
    expect(await r.usage.list({ keyId })).toHaveLength(0);
    other.exec('ROLLBACK');
    other.close();
    await settled;
    expect(cli().listUsage()).toHaveLength(1);
    expect(cli().getKey('k')).toMatchObject({ usedMicros: 300, reservedMicros: 0 });
  }, 20_000);

  it('hands its holds over only after the settlements a busy file made wait are written', async () => {
    const { path, cli, relay, keyId } = file();
    const { lines, logger } = logged();
    const r = await relay('single', undefined, logger);
    const hold = (await r.ledger.reserve(keyId, 300, LEASE))!;
    // Another thread holds the write lock past busy_timeout, and lets go on its own once told:
    // while the handover's own transaction waits on the lock, after its group commit gave up.
    const other = new Worker(
      `const { DatabaseSync } = require('node:sqlite');
       const { workerData, parentPort } = require('node:worker_threads');
       const db = new DatabaseSync(workerData.path);
       db.exec('BEGIN IMMEDIATE');
       parentPort.postMessage('locked');
       parentPort.once('message', () => setTimeout(() => { db.exec('ROLLBACK'); db.close(); parentPort.close(); }, 300));`,
      { eval: true, workerData: { path } },
    );
    await new Promise((resolve) => other.once('message', resolve));
    const settled = r.ledger.settle(hold, row(keyId, 300));
    await until(() => lines.some((l) => l.msg.startsWith('the database is busy')), 10_000);
    other.postMessage('let go');
    let handedOver = true;
    try {
      r.handOver();
    } catch {
      handedOver = false;
    }
    // Once holds are rows, the rows are all another relay sees: the waiting charge must be there.
    if (handedOver) expect(cli().getKey('k')!.usedMicros).toBe(300);
    expect(r.holdsInMemory).toBe(!handedOver);
    await settled;
    r.handOver();
    expect(r.holdsInMemory).toBe(false);
    expect(cli().getKey('k')).toMatchObject({ usedMicros: 300, reservedMicros: 0 });
    expect(cli().listUsage()).toHaveLength(1);
  }, 30_000);

  it('writes every queued settlement when closed, as on SIGTERM', async () => {
    const { cli, relay, keyId } = file();
    const r = await relay();
    const holds = await Promise.all(
      Array.from({ length: 5 }, () => r.ledger.reserve(keyId, 100, LEASE)),
    );
    const settled = holds.map((h) => r.ledger.settle(h, row(keyId, 50)));
    r.closeNow();
    await Promise.all(settled);
    expect(cli().listUsage()).toHaveLength(5);
    expect(cli().getKey('k')).toMatchObject({ usedMicros: 250, reservedMicros: 0 });
  });

  it('commits a batch larger than one insert takes: every row once, in the order settled', async () => {
    const { path, relay } = file();
    const r = await relay();
    // 41 rows in one group commit: inserts of 32, 8 and 1 rows (sqlite-ledger.ts ROWS_PER_INSERT).
    const ids = Array.from({ length: 41 }, (_, i) => `req-${i}`);
    await Promise.all(ids.map((requestId) => r.ledger.settle(null, usageRow({ requestId }))));
    const db = new DatabaseSync(path);
    const rows = db.prepare('SELECT request_id FROM usage ORDER BY id').all();
    expect(rows.map((u) => u.request_id)).toEqual(ids);
    expect({ ...db.prepare('SELECT SUM(requests) AS n FROM usage_daily').get() }).toEqual({
      n: 41,
    });
    db.close();
  });

  it('commits its batches without a temporary file: the multi-row insert keeps no statement journal', async () => {
    const { path } = file();
    // SQLite picks its temporary directory once a process: a child is told this one.
    const temp = mkdtempSync(join(tmpdir(), 'sqlite-temp-'));
    dirs.push(temp);
    const created: string[] = [];
    const watcher = watch(temp, (_event, name) => void created.push(String(name)));
    closers.push(() => watcher.close());
    const store = new URL('./sqlite.ts', import.meta.url).pathname;
    const fixture = new URL('../../../test/fixtures/usage-row.ts', import.meta.url).pathname;
    // 40 group commits of 64 rows, as under load: a statement journal of the pages an insert of
    // 32 changes (the table and its indexes) outgrows the 64 KiB SQLite keeps in memory, and
    // each spill was a file made and deleted (33 here before, ~20 a second at load).
    const script = `
      import { SqliteStore } from ${JSON.stringify(store)};
      import { usageRow } from ${JSON.stringify(fixture)};
      const store = new SqliteStore({ path: ${JSON.stringify(path)}, holdsInMemory: true });
      for (let i = 0; i < 40; i++) {
        await Promise.all(Array.from({ length: 64 }, () => store.settleSoon(null, usageRow())));
      }
      store.closeNow();`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, SQLITE_TMPDIR: temp },
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    // The watcher's events arrive in order: once our own file's has, the child's all have.
    writeFileSync(join(temp, 'end'), '');
    await until(() => created.includes('end'));
    expect(created.filter((name) => name !== 'end')).toEqual([]);
    const db = new DatabaseSync(path);
    expect({ ...db.prepare('SELECT COUNT(*) AS n FROM usage').get() }).toEqual({ n: 2560 });
    db.close();
  }, 30_000);

  it("shows a settlement still in the group commit's window in every usage read", async () => {
    const { path, keyId } = file();
    // A window no read waits out: each commits the queue itself.
    const r = await openRelaySqliteStore({ path, commitWindowMs: 60_000 }, 'single');
    closers.push(() => r.closeNow());
    const usage = r.admin.usage;
    const [from, to] = [Date.now() - 60_000, Date.now() + 60_000];
    const today = new Date().toISOString().slice(0, 10);
    // Each read right after a settlement that is queued, not committed: it waits for the commit.
    // lastUsed first: a key without a row yet has no time at all.
    const reads: [string, () => Promise<number>][] = [
      ['lastUsed', async () => ((await usage.lastUsed([keyId])).has(keyId) ? 1 : 0)],
      ['usage.list', async () => (await r.usage.list({ keyId })).length],
      ['usage.totalMicros', () => r.usage.totalMicros(keyId, from, to)],
      [
        'usage.summary',
        async () => (await r.usage.summary({ keyName: 'k', fromMs: from, toMs: to }))[0]!.requests,
      ],
      ['requests', async () => (await usage.requests({ key: 'k', limit: 100 })).rows.length],
      [
        'report',
        async () =>
          (await usage.report({ fromDay: today, toDay: today, groupBy: 'key' }))[0]!.requests,
      ],
      [
        'live',
        async () => (await usage.live({ fromMs: from, toMs: to, bucketMs: 60_000 })).requests,
      ],
      ['channels', async () => (await usage.channels({ fromMs: from, toMs: to }))[0]!.requests],
      [
        'exportRows',
        async () => {
          let n = 0;
          for await (const rows of usage.exportRows({ fromMs: from, toMs: to })) n += rows.length;
          return n;
        },
      ],
    ];
    const seen: Record<string, number> = {};
    const expected: Record<string, number> = {};
    for (const [i, [name, read]] of reads.entries()) {
      const settled = r.ledger.settle(null, row(keyId, 1));
      seen[name] = await read();
      // A count of rows, or the micros charged, or (lastUsed) whether the key has a row at all.
      expected[name] = i + 1;
      await settled;
    }
    expect(seen).toEqual(expected);
  });

  it('commits for a usage read only in its turn with a checkpoint, and as soon as the turn is free', async () => {
    const { path, cli, keyId } = file();
    // The checkpoint worker's side of the turns, held by the test.
    let free = false;
    const r = new SqliteStore({
      path,
      holdsInMemory: true,
      commitWindowMs: 60_000,
      commitTurns: { enter: () => free, leave: () => {} },
    });
    closers.push(() => r.closeNow());
    const settled = r.ledger.settle(null, row(keyId, 1));
    let rows: number | undefined;
    const read = r.usage.list({ keyId }).then((list) => (rows = list.length));
    await sleep(30);
    expect({ rows, committed: cli().listUsage().length }).toEqual({
      rows: undefined,
      committed: 0,
    });
    free = true;
    await read;
    expect(rows).toBe(1);
    await settled;
  });

  it('retries a batch with a bad row row by row: each good one committed once, with its charge and rollup', async () => {
    const { path, cli, relay, keyId } = file();
    const r = await relay();
    const holds = await Promise.all([0, 1, 2].map(() => r.ledger.reserve(keyId, 300, LEASE)));
    // A row the usage table refuses (NOT NULL), in the same group commit as two good ones: the
    // batch's summed charges and gathered rollups are rolled back, then each row is retried.
    const bad = { ...row(keyId, 300), endpoint: null as unknown as string };
    const settled = await Promise.allSettled([
      r.ledger.settle(holds[0]!, row(keyId, 300)),
      r.ledger.settle(holds[1]!, bad),
      r.ledger.settle(holds[2]!, row(keyId, 300)),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(cli().getKey('k')).toMatchObject({ usedMicros: 600, reservedMicros: 0 });
    expect(cli().listUsage()).toHaveLength(2);
    const db = new DatabaseSync(path);
    const rollup = db.prepare('SELECT SUM(requests) AS n, SUM(cost_micros) AS c FROM usage_daily');
    expect({ ...rollup.get() }).toEqual({ n: 2, c: 600 });
    db.close();
    // What the relay leaves the key is what the file says: the failed row's charge is not counted.
    expect(await fits(r, keyId, 401)).toBe(false);
    expect(await fits(r, keyId, 400)).toBe(true);
  });

  it('answers a hold or a settlement after close with a rejection, never a throw', async () => {
    const { relay, keyId } = file();
    const r = await relay();
    const hold = (await r.ledger.reserve(keyId, 100, LEASE))!;
    r.closeNow();
    // RequestUsage.finish chains .catch on the settlement: a throw would escape it.
    let settled: Promise<void> | undefined;
    expect(() => (settled = r.ledger.settle(hold, row(keyId, 50)))).not.toThrow();
    await expect(settled).rejects.toThrow('the store is closed');
    let held: Promise<unknown> | undefined;
    expect(() => (held = r.ledger.reserve(keyId, 100, LEASE))).not.toThrow();
    await expect(held).rejects.toThrow('the store is closed');
  });

  it('hands its holds over as rows when a second relay starts on the file; both then hold through rows', async () => {
    const { cli, relay, keyId } = file();
    const first = await relay();
    const early = (await first.ledger.reserve(keyId, 400, LEASE))!;
    const second = await relay();
    expect([first.holdsInMemory, second.holdsInMemory]).toEqual([false, false]);
    expect(cli().getKey('k')!.reservedMicros).toBe(400);
    const holds = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? first : second).ledger.reserve(keyId, 200, LEASE),
      ),
    );
    expect(holds.filter((h) => h !== null)).toHaveLength(3);
    // The hold made in memory settles as the row it became: freed once, charged once.
    await first.ledger.settle(early, row(keyId, 100));
    expect(cli().getKey('k')).toMatchObject({ usedMicros: 100, reservedMicros: 600 });
  });

  it('holds through rows beside a cluster worker, and drops no stale hold that may be its', async () => {
    const { cli, path, keyId } = file();
    const worker = await openRelaySqliteStore({ path }, 'worker');
    closers.push(() => worker.closeNow());
    expect(await worker.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();
    const single = await openRelaySqliteStore({ path, releaseStaleHolds: true }, 'single');
    closers.push(() => single.closeNow());
    expect(single.holdsInMemory).toBe(false);
    expect(cli().getKey('k')!.reservedMicros).toBe(700);
    expect(await single.ledger.reserve(keyId, 400, LEASE)).toBeNull();
  });

  it('keeps its holds in memory when a relay that asked for them died waiting', async () => {
    const { cli, relay } = file();
    // What a relay killed while it waited for a handover leaves in the file.
    cli().requestHandover(1);
    const r = await relay();
    // Past a few of the ledger's handover polls (50 ms apart).
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(r.holdsInMemory).toBe(true);
  });

  it('hands over only while the request is in time: one left by an asker that died lapses', async () => {
    const { cli, relay } = file();
    const owner = await relay();
    // What an asker killed while waiting leaves behind: its last renewal, now past.
    cli().requestHandover(Date.now() - 1);
    await sleep(200); // four of the owner's polls
    expect(owner.holdsInMemory).toBe(true);
    cli().requestHandover(Date.now() + HANDOVER_LAPSE_MS);
    await vi.waitFor(() => expect(owner.holdsInMemory).toBe(false), { timeout: 1000 });
  });

  it('renews its request while it waits, so that a slow owner still sees it in time', async () => {
    const { path, relay } = file();
    const stuck = new RelayLock(`${path}.lock`);
    closers.push(() => stuck.close());
    stuck.trySole();
    const asked = () => {
      const db = new DatabaseSync(path);
      const row = db
        .prepare("SELECT value FROM store_meta WHERE name = 'ledger_handover'")
        .get() as { value: number };
      db.close();
      return row.value;
    };
    const waiting = relay('single', HANDOVER_LAPSE_MS + 1000);
    await sleep(100);
    const first = asked();
    expect(first).toBeGreaterThan(Date.now());
    await sleep(HANDOVER_RENEW_MS * 3);
    // Renewed, and so still in time past the first request's own lapse.
    expect(asked()).toBeGreaterThan(first);
    stuck.close();
    expect((await waiting).holdsInMemory).toBe(false);
    // Once it stopped waiting it no longer asks.
    expect(asked()).toBe(0);
  });

  it('refuses to start when the relay holding the file in memory does not hand over', async () => {
    const { path, relay } = file();
    // A relay whose event loop never answers: the lock held, no ledger polling.
    const stuck = new RelayLock(`${path}.lock`);
    closers.push(() => stuck.close());
    stuck.trySole();
    await expect(relay('single', 100)).rejects.toThrow(/keeps its quota holds in memory/);
    stuck.close();
    expect((await relay()).holdsInMemory).toBe(true);
  });

  it('logs a handover that fails for a reason other than busy, once, and keeps its holds', async () => {
    const { cli, relay, keyId } = file();
    const { lines, logger } = logged();
    const r = await relay('single', undefined, logger);
    const held = (await r.ledger.reserve(keyId, 100, LEASE))!;
    // A hold row taking the id the hold in memory must keep as a row: the handover cannot pass.
    expect(cli().reserve(keyId, 100, LEASE)!.id).toBe(held.id);
    cli().requestHandover(Date.now() + HANDOVER_LAPSE_MS);
    await sleep(300); // six polls
    expect(r.holdsInMemory).toBe(true);
    const failures = lines.filter((l) => l.msg.startsWith('cannot hand the quota holds'));
    expect(failures).toHaveLength(1);
    expect(failures[0]!.err!.message).toMatch(/UNIQUE/);
  });

  it('steps down to rows and rejoins when its lock file is deleted and a second relay starts alone', async () => {
    const { path, cli, relay, keyId } = file();
    const { lines, logger } = logged();
    const first = await relay('single', undefined, logger);
    expect(await first.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();
    // An operator deleting a "stale" lock file: the next relay locks a new one, alone.
    rmSync(`${path}.lock`);
    const second = await relay();
    expect(second.holdsInMemory).toBe(true);
    // Both hammer the key at once: holds and charges together never pass its quota of 1000.
    const settled: Promise<void>[] = [];
    const holds = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const relay = i % 2 ? first : second;
        const hold = await relay.ledger.reserve(keyId, 50, LEASE);
        if (hold && i % 4 === 0) settled.push(relay.ledger.settle(hold, row(keyId, 50)));
        return hold;
      }),
    );
    await Promise.all(settled);
    expect(holds.filter((h) => h !== null)).toHaveLength(6);
    expect([first.holdsInMemory, second.holdsInMemory]).toEqual([false, false]);
    const key = cli().getKey('k')!;
    expect(key.reservedMicros + key.usedMicros).toBe(1000);
    const told = lines.filter((l) => l.msg.includes('was deleted or replaced'));
    expect(told).toHaveLength(1);
    expect(told[0]!.msg).toMatch(/Never delete the lock file while a relay runs/);
  });

  it('keeps the hold rows of a cluster worker when its lock file is deleted and a single relay starts alone', async () => {
    const { path, cli, keyId } = file();
    const worker = await openRelaySqliteStore({ path }, 'worker');
    closers.push(() => worker.closeNow());
    expect(await worker.ledger.reserve(keyId, 700, LEASE)).not.toBeNull();
    rmSync(`${path}.lock`);
    // As the server opens a single relay: stale holds dropped, if it is alone on the file.
    const single = await openRelaySqliteStore({ path, releaseStaleHolds: true }, 'single');
    closers.push(() => single.closeNow());
    expect(single.holdsInMemory).toBe(true);
    expect(cli().getKey('k')!.reservedMicros).toBe(700);
    const holds = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? worker : single).ledger.reserve(keyId, 50, LEASE),
      ),
    );
    expect(holds.filter((h) => h !== null)).toHaveLength(6);
    expect(single.holdsInMemory).toBe(false);
  });

  it('closes quietly while rejoining, and a hold asked meanwhile is refused, not left waiting', async () => {
    const { path, relay, keyId } = file();
    const { lines, logger } = logged();
    const r = await relay('single', undefined, logger);
    rmSync(`${path}.lock`);
    // Sole on the new file and never answering: the rejoin waits.
    const stuck = new RelayLock(`${path}.lock`);
    closers.push(() => stuck.close());
    stuck.trySole();
    await until(() => !r.holdsInMemory);
    const held = r.ledger.reserve(keyId, 100, LEASE);
    r.closeNow();
    await expect(held).rejects.toThrow('the store is closed');
    await sleep(100);
    expect(lines.map((l) => l.msg).filter((m) => !m.includes('was deleted or replaced'))).toEqual(
      [],
    );
  });

  it('keeps holding through rows when its lock file is deleted with no other relay', async () => {
    const { path, cli, relay, keyId } = file();
    const r = await relay();
    await r.ledger.reserve(keyId, 300, LEASE);
    rmSync(`${path}.lock`);
    await until(() => !r.holdsInMemory);
    expect(cli().getKey('k')!.reservedMicros).toBe(300);
    // Its new lock file is shared: a relay starting now cannot be alone.
    expect((await relay()).holdsInMemory).toBe(false);
  });
});
