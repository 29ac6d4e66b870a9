import type { SqliteStore } from './sqlite.ts';
import type { KeyStore, QuotaLedger, UsageStore } from './types.ts';

/**
 * The async role interfaces (types.ts) over the SQLite store's synchronous calls. node:sqlite
 * answers at once, so each is a resolved promise; holds and settlements go through the group
 * commit.
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
      settle: (reservation, usage) => store.settleSoon(reservation, usage),
      release: async (reservation) => store.release(reservation),
      extend: (reservation, leaseMs) => store.extendSoon(reservation, leaseMs),
    },
    usage: {
      record: async (row) => store.recordUsage(row),
      // After the settlements still queued: a usage read shows every request already answered.
      totalMicros: async (keyId, fromMs, toMs) => {
        await store.committed();
        return store.usageTotalMicros(keyId, fromMs, toMs);
      },
      list: async (filter) => {
        await store.committed();
        return store.listUsage(filter);
      },
      summary: async (filter) => {
        await store.committed();
        return store.usageSummary(filter);
      },
    },
  };
}
