import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/**
 * The DynamoDB tables a fleet shares, as the fleet contract (issue 16) fixes them: the relay's
 * DynamoDB store finds them by `store.tablePrefix` alone. Every table has the same key schema
 * (`pk`, `sk`, both strings) and TTL attribute (`expiresAt`, epoch seconds).
 */
export const FLEET_TABLES = {
  /** Keys, secret-hash lookups, the quota ledger (used, reserved, holds), the keys version. */
  keys: { suffix: 'keys' },
  /** Raw usage rows (with a TTL) and daily rollups (atomic counters, no TTL). */
  usage: {
    suffix: 'usage',
    /** Rows across keys by time. */
    globalIndexes: [{ indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' }],
  },
  /** RPM and TPM window counters (a TTL of a few minutes). */
  rate: { suffix: 'rate' },
  /** Audit entries, console sessions, channel overrides, login-throttle counters. */
  admin: { suffix: 'admin' },
} as const satisfies Record<
  string,
  {
    readonly suffix: string;
    readonly globalIndexes?: readonly {
      readonly indexName: string;
      readonly partitionKey: string;
      readonly sortKey: string;
    }[];
  }
>;

export type FleetTableRole = keyof typeof FLEET_TABLES;

export const FLEET_TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;
export const FLEET_TABLE_TTL_ATTRIBUTE = 'expiresAt';

/** The table names for a prefix, by role. */
export function fleetTableNames(prefix: string): Readonly<Record<FleetTableRole, string>> {
  const names = {} as Record<FleetTableRole, string>;
  for (const role of Object.keys(FLEET_TABLES) as FleetTableRole[]) {
    names[role] = `${prefix}${FLEET_TABLES[role].suffix}`;
  }
  return names;
}

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
    this.tablePrefix = props.tablePrefix ?? 'llm-relay-';
    const names = fleetTableNames(this.tablePrefix);
    const string = (name: string) => ({ name, type: dynamodb.AttributeType.STRING });
    const tables = {} as Record<FleetTableRole, dynamodb.Table>;
    for (const role of Object.keys(FLEET_TABLES) as FleetTableRole[]) {
      const table = new dynamodb.Table(this, role[0]!.toUpperCase() + role.slice(1), {
        tableName: names[role],
        partitionKey: string(FLEET_TABLE_KEYS.partitionKey),
        sortKey: string(FLEET_TABLE_KEYS.sortKey),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        // An AWS-owned key: encrypted at rest, no KMS key to manage and no KMS request charges.
        encryption: dynamodb.TableEncryption.DEFAULT,
        timeToLiveAttribute: FLEET_TABLE_TTL_ATTRIBUTE,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const spec: (typeof FLEET_TABLES)[FleetTableRole] = FLEET_TABLES[role];
      for (const index of 'globalIndexes' in spec ? spec.globalIndexes : []) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
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
