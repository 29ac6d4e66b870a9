import { z } from 'zod';

/**
 * How long a quota hold lasts unless renewed: the relay renews the holds of running requests
 * every lease/3 (usage/lease-keeper.ts), so the lease only bounds how long a dead process's
 * holds keep quota from others.
 */
export const DEFAULT_LEASE_MS = 15 * 60_000;

/** Settings every store shares. */
const common = {
  /**
   * The quota hold lease (see DEFAULT_LEASE_MS). Running requests renew it every third of it, so
   * 10 s is the floor (a renewal must survive a stalled moment: a GC pause, a busy event loop);
   * keep it at minutes in production. The fleet test runs with 10 s to see a dead host's holds
   * come back within a test.
   */
  holdLeaseMs: z.number().int().min(10_000).max(86_400_000).default(DEFAULT_LEASE_MS),
};

const sqliteStoreSchema = z.strictObject({ type: z.literal('sqlite'), ...common });

const dynamodbStoreSchema = z.strictObject({
  type: z.literal('dynamodb'),
  ...common,
  /** Tables are `${tablePrefix}keys`, `…usage`, `…rate` and `…admin`. */
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{0,200}$/, 'must be letters, digits, "_", "-" or "."')
    .default('llm-relay-'),
  /** Absent: the default chain's (AWS_REGION, the instance's). */
  region: z.string().min(1).optional(),
  /** Only for tests against a local stand-in (dynalite). */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
});

/**
 * The relay config's `store` section: where keys, quota, usage and rate windows live. SQLite
 * (the default) is a file in the data dir, for one host; DynamoDB is for a fleet of hosts.
 */
export const storeConfigSchema = z
  .discriminatedUnion('type', [sqliteStoreSchema, dynamodbStoreSchema])
  .default({ type: 'sqlite', holdLeaseMs: DEFAULT_LEASE_MS });

export type StoreConfig = z.output<typeof storeConfigSchema>;
