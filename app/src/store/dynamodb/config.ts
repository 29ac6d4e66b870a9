import type { DynamoStoreOptions } from './client.ts';

/** The relay config's `store` section when it names DynamoDB (store-config.ts). */
export interface DynamoStoreConfig {
  readonly type: 'dynamodb';
  readonly tablePrefix: string;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
}

/** Store options from the relay config: credentials always come from the default chain. */
export function dynamoStoreOptions(
  store: DynamoStoreConfig,
  usage: { readonly retainDays?: number; readonly timeZone?: string } = {},
): DynamoStoreOptions {
  return {
    tablePrefix: store.tablePrefix,
    ...(store.region !== undefined && { region: store.region }),
    ...(store.endpoint !== undefined && { endpoint: store.endpoint }),
    ...(usage.retainDays !== undefined && { retentionDays: usage.retainDays }),
    ...(usage.timeZone !== undefined && { timeZone: usage.timeZone }),
  };
}
