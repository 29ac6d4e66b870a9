import { randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type {
  AdminSessions,
  AdminStore,
  AuditLog,
  ChannelOverride,
  ChannelOverrides,
  LoginThrottle,
  Page,
  StoredAuditEntry,
} from '../admin-types.ts';
import { DynamoUsageQueries } from './admin-usage.ts';
import type { Dynamo } from './client.ts';
import type { DynamoKeyStore } from './keys.ts';
import { ttlSeconds } from './tables.ts';
import { rowId } from './usage-items.ts';
import type { DynamoUsageStore } from './usage.ts';

/**
 * The admin table:
 *   audit     pk `audit`, sk `<at, 13 digits>#<random>` (newest first by a reverse Query)
 *   channels  pk `channel`, sk `<channel>`
 *   sessions  pk `session#<idHash>`, sk `session`, TTL at the session's end
 *   throttle  pk `login#<scope>`, sk `<at>#<random>`, TTL a day after the failure
 */
const THROTTLE_KEEP_MS = 86_400_000;
const pad = (n: number) => String(n).padStart(13, '0');
const unique = () => randomBytes(6).toString('base64url');

function auditLog(d: Dynamo): AuditLog {
  return {
    async append(e) {
      const sk = `${pad(e.at)}#${unique()}`;
      await d.doc.send(
        new PutCommand({
          TableName: d.tables.admin,
          Item: {
            pk: 'audit',
            sk,
            ...e,
            before: e.before === undefined ? null : JSON.stringify(e.before),
            after: e.after === undefined ? null : JSON.stringify(e.after),
          },
        }),
      );
    },
    async list(q): Promise<Page<StoredAuditEntry>> {
      const rows: StoredAuditEntry[] = [];
      let start: Record<string, unknown> | undefined = q.cursor
        ? { pk: 'audit', sk: Buffer.from(q.cursor, 'base64url').toString() }
        : undefined;
      let lastSk: string | undefined;
      do {
        const page = await d.doc.send(
          new QueryCommand({
            TableName: d.tables.admin,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': 'audit' },
            ScanIndexForward: false,
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const r of page.Items ?? []) {
          if (q.action !== undefined && r.action !== q.action) continue;
          if (rows.length === q.limit)
            return { rows, next: Buffer.from(lastSk!).toString('base64url') };
          rows.push({
            id: rowId(r.at as number, String(r.sk)),
            at: r.at as number,
            actor: r.actor as string,
            action: r.action as string,
            target: (r.target as string | null) ?? null,
            before: typeof r.before === 'string' ? JSON.parse(r.before) : null,
            after: typeof r.after === 'string' ? JSON.parse(r.after) : null,
            requestId: r.requestId as string,
            ip: (r.ip as string | null) ?? null,
          });
          lastSk = r.sk as string;
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return { rows, next: null };
    },
  };
}

function channelOverrides(d: Dynamo): ChannelOverrides {
  return {
    async list() {
      const out = await d.doc.send(
        new QueryCommand({
          TableName: d.tables.admin,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'channel' },
          ConsistentRead: true,
        }),
      );
      return (out.Items ?? []).map((r): ChannelOverride => ({
        channel: r.sk as string,
        enabled: r.enabled as boolean,
        actor: r.actor as string,
        at: r.at as number,
      }));
    },
    async set(o) {
      await d.doc.send(
        new PutCommand({
          TableName: d.tables.admin,
          Item: { pk: 'channel', sk: o.channel, enabled: o.enabled, actor: o.actor, at: o.at },
        }),
      );
    },
    async clear(channel) {
      await d.doc.send(
        new DeleteCommand({ TableName: d.tables.admin, Key: { pk: 'channel', sk: channel } }),
      );
    },
  };
}

function sessions(d: Dynamo): AdminSessions {
  const key = (idHash: string) => ({ pk: `session#${idHash}`, sk: 'session' });
  return {
    // Expired sessions go by TTL; find() also checks the time, since TTL deletes late.
    async create(s) {
      await d.doc.send(
        new PutCommand({
          TableName: d.tables.admin,
          Item: {
            ...key(s.idHash),
            ...s,
            ttl: undefined,
            expiresAt: ttlSeconds(s.expiresAt),
            endsAt: s.expiresAt,
          },
        }),
      );
    },
    async find(idHash, now) {
      const out = await d.doc.send(
        new GetCommand({ TableName: d.tables.admin, Key: key(idHash), ConsistentRead: true }),
      );
      const r = out.Item;
      if (!r || (r.endsAt as number) <= now) return null;
      return {
        idHash: r.idHash as string,
        admin: r.admin as string,
        keyTag: (r.keyTag as string | null) ?? null,
        csrfToken: r.csrfToken as string,
        createdAt: r.createdAt as number,
        expiresAt: r.endsAt as number,
      };
    },
    async delete(idHash) {
      await d.doc.send(new DeleteCommand({ TableName: d.tables.admin, Key: key(idHash) }));
    },
  };
}

function loginThrottle(d: Dynamo): LoginThrottle {
  const items = async (scope: string, sinceMs: number) => {
    const found: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await d.doc.send(
        new QueryCommand({
          TableName: d.tables.admin,
          KeyConditionExpression: 'pk = :pk AND sk >= :since',
          ExpressionAttributeValues: { ':pk': `login#${scope}`, ':since': pad(sinceMs) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      found.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return found;
  };
  return {
    async failures(scope, sinceMs) {
      return (await items(scope, sinceMs)).length;
    },
    async recordFailure(scope, at) {
      await d.doc.send(
        new PutCommand({
          TableName: d.tables.admin,
          Item: {
            pk: `login#${scope}`,
            sk: `${pad(at)}#${unique()}`,
            expiresAt: ttlSeconds(at + THROTTLE_KEEP_MS),
          },
        }),
      );
    },
    async clear(scope) {
      for (const r of await items(scope, 0))
        await d.doc.send(
          new DeleteCommand({ TableName: d.tables.admin, Key: { pk: r.pk, sk: r.sk } }),
        );
    },
  };
}

/** Everything the admin API needs, on DynamoDB (see admin-usage.ts for the usage views). */
export function createDynamoAdminStore(
  d: Dynamo,
  keys: DynamoKeyStore,
  usage: DynamoUsageStore,
): AdminStore {
  const queries = new DynamoUsageQueries(usage);
  return {
    keys,
    usage: queries,
    retention: queries,
    audit: auditLog(d),
    channels: channelOverrides(d),
    sessions: sessions(d),
    throttle: loginThrottle(d),
  };
}
