import type { DatabaseSync } from 'node:sqlite';
import type {
  AdminSession,
  AdminSessions,
  AdminStore,
  AuditEntry,
  AuditLog,
  ChannelOverride,
  ChannelOverrides,
  LoginThrottle,
  Page,
  StoredAuditEntry,
} from './admin-types.ts';
import { isOldHint, shortenOldHint } from './secrets.ts';
import type { DailyRollups } from './sqlite-rollups.ts';
import { SqliteUsageQueries } from './sqlite-usage-queries.ts';
import type { KeyStore } from './types.ts';

export const ADMIN_SCHEMA = `
CREATE TABLE IF NOT EXISTS admin_audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  before TEXT,
  after TEXT,
  request_id TEXT NOT NULL,
  ip TEXT
);
CREATE TABLE IF NOT EXISTS channel_overrides (
  channel TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_sessions (
  id_hash TEXT PRIMARY KEY,
  admin TEXT NOT NULL,
  key_tag TEXT,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_login_failures (scope TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS admin_login_failures_scope ON admin_login_failures (scope, at);
`;

/** Columns added to the admin tables after they first shipped. */
export function migrateAdminSchema(db: DatabaseSync): void {
  const sessionColumns = (
    db.prepare('PRAGMA table_info(admin_sessions)').all() as { name: string }[]
  ).map((c) => c.name);
  // Sessions from before it have no key tag: they end at their next request.
  if (!sessionColumns.includes('key_tag'))
    db.exec('ALTER TABLE admin_sessions ADD COLUMN key_tag TEXT');
  // Audit rows written while hints showed the first eight characters too.
  for (const side of ['before', 'after']) {
    const hint = `json_extract(${side}, '$.hint')`;
    db.exec(
      `UPDATE admin_audit SET ${side} = json_set(${side}, '$.hint', ${shortenOldHint(hint)})
       WHERE json_valid(${side}) AND json_type(${side}, '$.hint') = 'text' AND ${isOldHint(hint)}`,
    );
  }
}

const json = (value: unknown): string | null =>
  value === undefined ? null : JSON.stringify(value);
const parse = (text: unknown): unknown => (typeof text === 'string' ? JSON.parse(text) : null);

function auditLog(db: DatabaseSync): AuditLog {
  const insert = db.prepare(
    `INSERT INTO admin_audit (at, actor, action, target, before, after, request_id, ip)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return {
    async append(e: AuditEntry) {
      insert.run(
        e.at,
        e.actor,
        e.action,
        e.target,
        json(e.before),
        json(e.after),
        e.requestId,
        e.ip,
      );
    },
    async list(q): Promise<Page<StoredAuditEntry>> {
      const before =
        q.cursor && /^\d+$/.test(q.cursor) ? Number(q.cursor) : Number.MAX_SAFE_INTEGER;
      const rows = db
        .prepare(
          `SELECT * FROM admin_audit WHERE id < ? AND (? IS NULL OR action = ?)
           ORDER BY id DESC LIMIT ?`,
        )
        .all(before, q.action ?? null, q.action ?? null, q.limit + 1) as Record<string, unknown>[];
      const entries = rows.slice(0, q.limit).map((r) => ({
        id: r.id as number,
        at: r.at as number,
        actor: r.actor as string,
        action: r.action as string,
        target: r.target as string | null,
        before: parse(r.before),
        after: parse(r.after),
        requestId: r.request_id as string,
        ip: r.ip as string | null,
      }));
      return {
        rows: entries,
        next: rows.length > q.limit ? String(entries[entries.length - 1]!.id) : null,
      };
    },
  };
}

function channelOverrides(db: DatabaseSync): ChannelOverrides {
  return {
    async list() {
      return (
        db.prepare('SELECT * FROM channel_overrides ORDER BY channel').all() as Record<
          string,
          unknown
        >[]
      ).map((r): ChannelOverride => ({
        channel: r.channel as string,
        enabled: r.enabled === 1,
        actor: r.actor as string,
        at: r.at as number,
      }));
    },
    async set(o) {
      db.prepare(
        `INSERT INTO channel_overrides (channel, enabled, actor, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (channel) DO UPDATE SET enabled = excluded.enabled, actor = excluded.actor,
           at = excluded.at`,
      ).run(o.channel, o.enabled ? 1 : 0, o.actor, o.at);
    },
    async clear(channel) {
      db.prepare('DELETE FROM channel_overrides WHERE channel = ?').run(channel);
    },
  };
}

function sessions(db: DatabaseSync): AdminSessions {
  return {
    async create(s: AdminSession) {
      db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(s.createdAt);
      db.prepare(
        `INSERT INTO admin_sessions (id_hash, admin, key_tag, csrf_token, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(s.idHash, s.admin, s.keyTag, s.csrfToken, s.createdAt, s.expiresAt);
    },
    async find(idHash, now) {
      const r = db
        .prepare('SELECT * FROM admin_sessions WHERE id_hash = ? AND expires_at > ?')
        .get(idHash, now) as Record<string, unknown> | undefined;
      return r
        ? {
            idHash: r.id_hash as string,
            admin: r.admin as string,
            keyTag: (r.key_tag as string | null) ?? null,
            csrfToken: r.csrf_token as string,
            createdAt: r.created_at as number,
            expiresAt: r.expires_at as number,
          }
        : null;
    },
    async delete(idHash) {
      db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash);
    },
  };
}

const THROTTLE_KEEP_MS = 86_400_000;

function loginThrottle(db: DatabaseSync): LoginThrottle {
  return {
    async failures(scope, sinceMs) {
      return (
        db
          .prepare('SELECT COUNT(*) AS n FROM admin_login_failures WHERE scope = ? AND at >= ?')
          .get(scope, sinceMs) as { n: number }
      ).n;
    },
    async recordFailure(scope, at) {
      db.prepare('DELETE FROM admin_login_failures WHERE at < ?').run(at - THROTTLE_KEEP_MS);
      db.prepare('INSERT INTO admin_login_failures (scope, at) VALUES (?, ?)').run(scope, at);
    },
    async clear(scope) {
      db.prepare('DELETE FROM admin_login_failures WHERE scope = ?').run(scope);
    },
  };
}

/** The admin views of a SQLite store, over the store's own connection. */
export function createSqliteAdminStore(
  db: DatabaseSync,
  keys: KeyStore,
  rollups: DailyRollups,
  /** Once the settlements the group commit still holds are written (SqliteLedger.committed). */
  committed: () => Promise<void>,
): AdminStore {
  const usage = new SqliteUsageQueries(db, rollups, committed);
  return {
    keys,
    usage,
    retention: usage,
    audit: auditLog(db),
    channels: channelOverrides(db),
    sessions: sessions(db),
    throttle: loginThrottle(db),
  };
}
