import { CfnOutput, CrossStackReferences, Fn, ReferenceStrength, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type * as backup from 'aws-cdk-lib/aws-backup';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { AccessLogBucket } from './constructs/access-log-bucket.ts';
import { RelayHostedZone } from './constructs/dns.ts';
import { FleetTables } from './constructs/fleet-tables.ts';
import { ImageBucket } from './constructs/image-bucket.ts';
import { RelayLogGroup } from './constructs/relay-log-group.ts';
import { relayBackupVault } from './constructs/volume-backup.ts';

export interface StatefulStackProps extends StackProps {
  /** DNS name of the hosted zone holding the API domain. */
  readonly zoneName: string;
  /**
   * Existing zone to import instead of creating one.
   * @default - a new public hosted zone
   */
  readonly hostedZoneId?: string;
  /** @default ['*'] */
  readonly corsOrigins?: readonly string[];
  /** @default 90 */
  readonly imageExpirationDays?: number;
  /** @default 90 */
  readonly accessLogExpirationDays?: number;
  /** Days the relay's hourly database backups (backups/ in the image bucket) are kept. @default 35 */
  readonly backupExpirationDays?: number;
  /** @default '/llm-relay/relay' */
  readonly logGroupName?: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /**
   * Fleet mode: create the shared DynamoDB tables under this prefix (see FleetTables).
   * @default - no tables (the single host keeps its state in SQLite)
   */
  readonly fleetTablePrefix?: string;
}

/**
 * What must survive a redeploy or teardown of the relay: images, database backups, logs, DNS. Termination
 * protection is on, and every resource here is retained.
 */
export class StatefulStack extends Stack {
  readonly zone: route53.IHostedZone;
  readonly images: ImageBucket;
  readonly accessLogBucket: s3.Bucket;
  readonly logGroupName: string;
  /** Where AWS Backup keeps the data volume's daily recovery points (see VolumeBackup). */
  readonly backupVault: backup.IBackupVault;
  /** Fleet mode only: the shared DynamoDB tables. */
  readonly fleetTables?: FleetTables;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { terminationProtection: true, ...props });

    this.accessLogBucket = new AccessLogBucket(this, 'AccessLogs', {
      expirationDays: props.accessLogExpirationDays,
    }).bucket;
    this.images = new ImageBucket(this, 'Images', {
      accessLogBucket: this.accessLogBucket,
      expirationDays: props.imageExpirationDays,
      corsOrigins: props.corsOrigins,
      backupExpirationDays: props.backupExpirationDays,
    });
    const dns = new RelayHostedZone(this, 'Dns', {
      zoneName: props.zoneName,
      hostedZoneId: props.hostedZoneId,
    });
    this.zone = dns.zone;
    // A weak reference (Fn::GetStackOutput, read when the Relay and Certificate stacks deploy): a
    // strong one is an export (the us-east-1 Certificate stack's through the cross-region
    // ExportsWriter) that cannot change while it is read, so a new hosted zone (another
    // hostedZoneName, or a switch to an imported hostedZoneId) could never be deployed.
    // (An imported zone's id is a literal: no reference at all.)
    if (!props.hostedZoneId) {
      CrossStackReferences.of(dns.zone).produce(ReferenceStrength.WEAK);
      // The export the strong reference used, kept under its old name: stacks deployed before
      // still import it until their own update, and an export in use cannot be removed. Same
      // region only (docs/deploy.md, section 3, has the step for the cross-region reader).
      this.exportValue(dns.zone.hostedZoneId);
    }
    const logGroup = new RelayLogGroup(this, 'RelayLog', {
      logGroupName: props.logGroupName,
      retentionDays: props.logRetentionDays,
    }).logGroup;
    this.logGroupName = props.logGroupName ?? '/llm-relay/relay';
    this.backupVault = relayBackupVault(this, 'BackupVault');

    if (props.fleetTablePrefix !== undefined) {
      this.fleetTables = new FleetTables(this, 'FleetTables', {
        tablePrefix: props.fleetTablePrefix,
      });
      new CfnOutput(this, 'FleetTablePrefix', {
        value: props.fleetTablePrefix,
        description: 'The relay finds its DynamoDB tables by this prefix (store.tablePrefix)',
      });
    }

    if (dns.nameServers) {
      // Nothing under the zone resolves until the registrar delegates to these.
      new CfnOutput(this, 'NameServers', {
        description: `Set these as the name servers of ${props.zoneName} at its registrar`,
        value: Fn.join(',', dns.nameServers),
      });
    }
    new CfnOutput(this, 'ImageBucketName', { value: this.images.bucket.bucketName });
    new CfnOutput(this, 'RelayLogGroupName', { value: logGroup.logGroupName });
  }
}
