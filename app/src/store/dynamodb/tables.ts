/**
 * The DynamoDB tables of fleet mode, in one place: the relay's store, its tests (which create
 * them on dynalite) and the CDK fleet stack all read these definitions, so the three cannot drift.
 * Plain data with no SDK import: the CDK app loads it without the DynamoDB client.
 */

/** Table name suffixes; the full name is `${tablePrefix}${suffix}`. */
export const TABLES = {
  /** Key items, secret-hash and name lookup items, the quota ledger, the keys version item. */
  keys: 'keys',
  /** Raw usage rows (TTL) and daily rollup counters (no TTL); `gsi1` lists rows across keys by time. */
  usage: 'usage',
  /** RPM/TPM window counters (TTL a few minutes). */
  rate: 'rate',
  /** Audit entries, admin sessions (TTL), channel overrides, login-throttle counters (TTL). */
  admin: 'admin',
} as const;

export type TableRole = keyof typeof TABLES;

export const DEFAULT_TABLE_PREFIX = 'llm-relay-';

/** Every table: partition key `pk` (S), sort key `sk` (S). */
export const PARTITION_KEY = 'pk';
export const SORT_KEY = 'sk';
/** The TTL attribute of every table, in epoch SECONDS (DynamoDB's rule). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** The one global secondary index, on the usage table only: raw rows of every key by time. */
export interface IndexDefinition {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

export const USAGE_GSI: IndexDefinition = {
  name: 'gsi1',
  partitionKey: 'gsi1pk',
  sortKey: 'gsi1sk',
};

export interface TableDefinition {
  readonly role: TableRole;
  readonly suffix: string;
  /** Global secondary indexes (projection ALL). */
  readonly indexes: readonly IndexDefinition[];
}

export const TABLE_DEFINITIONS: readonly TableDefinition[] = [
  { role: 'keys', suffix: TABLES.keys, indexes: [] },
  { role: 'usage', suffix: TABLES.usage, indexes: [USAGE_GSI] },
  { role: 'rate', suffix: TABLES.rate, indexes: [] },
  { role: 'admin', suffix: TABLES.admin, indexes: [] },
];

export type TableNames = Readonly<Record<TableRole, string>>;

export function tableNames(prefix: string = DEFAULT_TABLE_PREFIX): TableNames {
  return {
    keys: `${prefix}${TABLES.keys}`,
    usage: `${prefix}${TABLES.usage}`,
    rate: `${prefix}${TABLES.rate}`,
    admin: `${prefix}${TABLES.admin}`,
  };
}

/** Epoch ms to the TTL attribute's epoch seconds (rounded up: an item never goes early). */
export const ttlSeconds = (ms: number): number => Math.ceil(ms / 1000);
