import { z } from 'zod';

/** Settings every store shares. */
const common = {
  /**
   * How long a quota hold lasts at most: past it the hold counts no more, so the holds of a
   * process or host that died come back by themselves. Longer than any request should run; a
   * request still running past it may be charged less than it cost (never more than the quota).
   */
  holdLeaseMs: z
    .number()
    .int()
    .min(10_000)
    .max(86_400_000)
    .default(15 * 60_000),
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
  .default({ type: 'sqlite', holdLeaseMs: 15 * 60_000 });

export type StoreConfig = z.output<typeof storeConfigSchema>;
