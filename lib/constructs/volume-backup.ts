import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

export interface VolumeBackupProps {
  readonly volume: ec2.IVolume;
  /**
   * The vault the recovery points go to. It belongs in a stack that is never deleted (the
   * Stateful stack): a retained vault left behind by a deleted Relay stack keeps its name, and
   * the same stack deployed again would fail to create it.
   */
  readonly vault: backup.IBackupVault;
  /**
   * Days each daily recovery point is kept.
   * @default 35
   */
  readonly retentionDays?: number;
}

/**
 * AWS Backup of the data volume: a daily snapshot kept 35 days in the relay's vault. Chosen over
 * a DLM policy because the vault outlives the stack, restores are a console or CLI step with
 * the job history to go with it, and copies to another region or account (or a vault lock) are
 * one rule away. SQLite in WAL mode is crash-safe, so a crash-consistent snapshot restores.
 */
export class VolumeBackup extends Construct {
  readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: VolumeBackupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupPlanName: `${stack.stackName}-data-volume`,
      backupVault: props.vault,
    });
    this.plan.addRule(
      new backup.BackupPlanRule({
        ruleName: 'Daily',
        // 05:00 UTC, after the weekly patch window (04:00 on Sundays) has rebooted if it had to.
        scheduleExpression: events.Schedule.cron({ hour: '5', minute: '0' }),
        startWindow: Duration.hours(1),
        completionWindow: Duration.hours(4),
        deleteAfter: Duration.days(props.retentionDays ?? 35),
      }),
    );
    const selection = this.plan.addSelection('DataVolume', {
      resources: [
        backup.BackupResource.fromArn(
          stack.formatArn({
            service: 'ec2',
            resource: 'volume',
            resourceName: props.volume.volumeId,
          }),
        ),
      ],
    });
    Validations.of(selection).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        'The AWS-maintained policy AWS Backup documents for the role that takes the snapshots; it follows new resource types and API changes.',
    });
  }
}

/** The vault for the data volume's recovery points: retained, they must outlive any stack. */
export function relayBackupVault(scope: Construct, id: string): backup.BackupVault {
  return new backup.BackupVault(scope, id, { removalPolicy: RemovalPolicy.RETAIN });
}
