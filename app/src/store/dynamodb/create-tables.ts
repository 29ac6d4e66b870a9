/**
 * Creates the store's tables from tables.ts: for tests on dynalite and for local development.
 * On AWS the CDK fleet stack creates them (with PITR, deletion protection and TTL) from the
 * same definitions.
 */
import { PARTITION_KEY, SORT_KEY, TABLE_DEFINITIONS, tableNames } from './tables.ts';

export async function createTables(options: {
  readonly endpoint: string;
  readonly region: string;
  readonly tablePrefix?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}): Promise<void> {
  const { DynamoDBClient, CreateTableCommand, DescribeTableCommand } =
    await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient(options);
  const names = tableNames(options.tablePrefix);
  try {
    for (const def of TABLE_DEFINITIONS) {
      const key = (pk: string, sk: string) => [
        { AttributeName: pk, KeyType: 'HASH' as const },
        { AttributeName: sk, KeyType: 'RANGE' as const },
      ];
      const attributes = [
        PARTITION_KEY,
        SORT_KEY,
        ...def.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
      ];
      await client.send(
        new CreateTableCommand({
          TableName: names[def.role],
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: key(PARTITION_KEY, SORT_KEY),
          AttributeDefinitions: attributes.map((a) => ({ AttributeName: a, AttributeType: 'S' })),
          ...(def.indexes.length > 0 && {
            GlobalSecondaryIndexes: def.indexes.map((i) => ({
              IndexName: i.name,
              KeySchema: key(i.partitionKey, i.sortKey),
              Projection: { ProjectionType: 'ALL' },
            })),
          }),
        }),
      );
    }
    for (const def of TABLE_DEFINITIONS) {
      for (;;) {
        const t = await client.send(new DescribeTableCommand({ TableName: names[def.role] }));
        if (t.Table?.TableStatus === 'ACTIVE') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    client.destroy();
  }
}
