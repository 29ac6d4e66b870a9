import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyMoneyCache } from './key-money.ts';
import { openWalConnection } from './sqlite-connection.ts';

describe('KeyMoneyCache', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function open() {
    const dir = mkdtempSync(join(tmpdir(), 'key-money-'));
    dirs.push(dir);
    const path = join(dir, 'relay.db');
    const db = openWalConnection(path);
    db.exec(`CREATE TABLE keys (id INTEGER PRIMARY KEY, quota_micros INTEGER,
      used_micros INTEGER NOT NULL DEFAULT 0, reserved_micros INTEGER NOT NULL DEFAULT 0);
      INSERT INTO keys (id, quota_micros) VALUES (1, 1000);`);
    const cache = new KeyMoneyCache(db, (sql) => db.prepare(sql));
    return { path, db, cache };
  }

  it("keeps what the owner's muted writes commit, told through charged()", () => {
    const { db, cache } = open();
    expect(cache.get(1)).toMatchObject({ used_micros: 0 });
    cache.ownWrite(() => db.exec('UPDATE keys SET used_micros = used_micros + 300'));
    // Still cached: the owner reports what it committed instead of a read.
    expect(cache.get(1)).toMatchObject({ used_micros: 0 });
    cache.charged(1, 300);
    expect(cache.get(1)).toMatchObject({ used_micros: 300 });
    db.close();
  });

  it('drops what any other write on the same connection changes, from the next call on', () => {
    const { db, cache } = open();
    expect(cache.get(1)).toMatchObject({ quota_micros: 1000 });
    db.exec('UPDATE keys SET quota_micros = 500 WHERE id = 1');
    expect(cache.get(1)).toMatchObject({ quota_micros: 500 });
    db.exec('DELETE FROM keys WHERE id = 1');
    expect(cache.get(1)).toBeUndefined();
    db.close();
  });

  it("sees another connection's commit when asked inside a transaction of its own", () => {
    const { path, db, cache } = open();
    expect(cache.get(1)).toMatchObject({ used_micros: 0 });
    const other = new DatabaseSync(path);
    other.exec('PRAGMA busy_timeout = 5000; UPDATE keys SET used_micros = 700 WHERE id = 1');
    other.close();
    db.exec('BEGIN IMMEDIATE');
    cache.askInTransaction();
    db.exec('COMMIT');
    expect(cache.get(1)).toMatchObject({ used_micros: 700 });
    db.close();
  });

  it("sees another connection's commit once it asks again", async () => {
    const { path, db, cache } = open();
    expect(cache.get(1)).toMatchObject({ used_micros: 0 });
    const other = new DatabaseSync(path);
    other.exec('PRAGMA busy_timeout = 5000; UPDATE keys SET used_micros = 700 WHERE id = 1');
    other.close();
    for (const end = Date.now() + 3000; cache.get(1)!.used_micros !== 700; await sleep(1)) {
      if (Date.now() > end) throw new Error('never seen');
    }
    db.close();
  });

  it('leaves no trigger behind once closed', () => {
    const { db, cache } = open();
    cache.close(db);
    const triggers = db.prepare("SELECT name FROM sqlite_temp_master WHERE type = 'trigger'").all();
    expect(triggers).toEqual([]);
    db.close();
  });
});
