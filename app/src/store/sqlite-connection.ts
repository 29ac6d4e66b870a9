import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** How long a statement waits for another connection's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * A connection to the relay's database file in WAL mode. busy_timeout comes first: switching a
 * file to WAL (and even reading whether it already is) takes a lock, and a second process
 * opening the file while the first holds one (its schema migrations at start) must wait for it,
 * not fail at once with "database is locked".
 */
export function openWalConnection(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(
    `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;`,
  );
  return db;
}
