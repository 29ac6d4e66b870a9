import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteRateWindows } from './sqlite.ts';

const T = 1_800_000_030_000;

describe('rate windows shared in SQLite', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDb = () => {
    const dir = mkdtempSync(join(tmpdir(), 'rate-sqlite-'));
    dirs.push(dir);
    return join(dir, 'relay.db');
  };

  it('admits a tpm-only key without the write lock another worker holds', () => {
    const path = tempDb();
    const windows = new SqliteRateWindows({ path });
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      expect(windows.hitNow(1, { rpm: null, tpm: 100 }, T).admitted).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      windows.close();
    }
  });

  it('counts the tokens of one turn together, and those still queued at close', async () => {
    const path = tempDb();
    const windows = new SqliteRateWindows({ path });
    await Promise.all([windows.addTokens(1, 30, T), windows.addTokens(1, 30, T + 1)]);
    void windows.addTokens(1, 40, T + 2);
    windows.close();
    const reopened = new SqliteRateWindows({ path });
    const full = reopened.hitNow(1, { rpm: null, tpm: 100 }, T + 3);
    expect(full).toMatchObject({ admitted: false, tokens: { used: 100 } });
    reopened.close();
  });
});
