import type { SqliteStore } from './sqlite.ts';
import type { KeyStore, QuotaLedger, UsageStore } from './types.ts';

/**
 * The async role interfaces (types.ts) over the SQLite store's synchronous calls. node:sqlite
 * answers at once, so each is a resolved promise; holds and settlements go through the group
 * commit. reserveNow is the one answer given as a value: a hold decided at once (in memory).
 */
export function sqliteRoles(store: SqliteStore): {
  keys: KeyStore;
  ledger: QuotaLedger;
  usage: UsageStore;
} {
  return {
    keys: {
      findBySecret: async (secret) => store.findKeyBySecret(secret),
      get: async (name) => store.getKey(name),
      list: async () => store.listKeys(),
      upsertFromConfig: async (key) => store.upsertKey(key),
      create: async (key) => store.createKey(key),
      update: async (name, patch) => store.updateKey(name, patch),
      topUp: async (name, usd) => store.topUp(name, usd),
      setEnabled: async (name, enabled) => store.setEnabled(name, enabled),
      delete: async (name) => store.deleteKey(name),
      version: async () => store.keysVersion(),
    },
    ledger: {
      reserve: (keyId, micros, leaseMs) => store.reserveSoon(keyId, micros, leaseMs),
      reserveNow: (keyId, micros, leaseMs) => store.reserveNow(keyId, micros, leaseMs),
      settle: (reservation, usage) => store.settleSoon(reservation, usage),
      release: async (reservation) => store.release(reservation),
      extend: (reservation, leaseMs) => store.extendSoon(reservation, leaseMs),
    },
    usage: {
      record: async (row) => store.recordUsage(row),
      totalMicros: committedFirst(store, (keyId, fromMs, toMs) =>
        store.usageTotalMicros(keyId, fromMs, toMs),
      ),
      list: committedFirst(store, (filter) => store.listUsage(filter)),
      summary: committedFirst(store, (filter) => store.usageSummary(filter)),
    },
  };
}

/** A usage read after the settlements still queued: it shows every request already answered. */
function committedFirst<A extends unknown[], R>(
  store: SqliteStore,
  read: (...args: A) => R,
): (...args: A) => Promise<R> {
  return async (...args) => {
    await store.committed();
    return read(...args);
  };
}
