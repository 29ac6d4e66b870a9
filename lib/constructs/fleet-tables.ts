import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  DEFAULT_TABLE_PREFIX,
  PARTITION_KEY,
  SORT_KEY,
  TABLE_DEFINITIONS,
  TTL_ATTRIBUTE,
  tableNames,
} from '../../app/src/store/dynamodb/tables.ts';
import type { TableRole } from '../../app/src/store/dynamodb/tables.ts';

/**
 * The DynamoDB tables a fleet shares are the relay store's own definitions
 * (app/src/store/dynamodb/tables.ts, plain data): the store, its dynalite tests and this stack
 * read one list, so they cannot drift.
 */
export type FleetTableRole = TableRole;

/** The table names for a prefix, by role. */
export const fleetTableNames = tableNames;

/** The global secondary index names of a table, by role. */
export const fleetTableIndexes = (role: FleetTableRole): readonly string[] =>
  (TABLE_DEFINITIONS.find((t) => t.role === role)?.indexes ?? []).map((i) => i.name);

export interface FleetTablesProps {
  /** @default 'llm-relay-' */
  readonly tablePrefix?: string;
}

/**
 * The four tables, on demand, with point-in-time recovery and deletion protection, kept when the
 * stack goes (they hold the keys, balances and usage).
 */
export class FleetTables extends Construct {
  readonly tables: Readonly<Record<FleetTableRole, dynamodb.Table>>;
  readonly tablePrefix: string;

  constructor(scope: Construct, id: string, props: FleetTablesProps = {}) {
    super(scope, id);
    this.tablePrefix = props.tablePrefix ?? DEFAULT_TABLE_PREFIX;
    const names = fleetTableNames(this.tablePrefix);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    const tables = {} as Record<FleetTableRole, dynamodb.Table>;
    for (const { role, indexes } of TABLE_DEFINITIONS) {
      const table = new dynamodb.Table(this, role[0]!.toUpperCase() + role.slice(1), {
        tableName: names[role],
        partitionKey: string(PARTITION_KEY),
        sortKey: string(SORT_KEY),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        // An AWS-owned key: encrypted at rest, no KMS key to manage and no KMS request charges.
        encryption: dynamodb.TableEncryption.DEFAULT,
        timeToLiveAttribute: TTL_ATTRIBUTE,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      for (const index of indexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.name,
          partitionKey: string(index.partitionKey),
          sortKey: string(index.sortKey),
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      tables[role] = table;
    }
    this.tables = tables;
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-DDB4',
      reason:
        'Point-in-time recovery (35 days, to the second) is on for every table, and deletion protection plus a retained removal policy keep them; an AWS Backup plan on top would add cost for no additional restore point a relay needs.',
    });
  }
}
