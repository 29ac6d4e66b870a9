import { Stack, Tags } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';

export interface HostPatchingProps {
  readonly instance: ec2.Instance;
  /**
   * When the weekly install runs (EventBridge cron or rate expression, UTC).
   * @default 'cron(0 4 ? * SUN *)'
   */
  readonly schedule?: string;
}

/** Tag key Patch Manager reads to find an instance's patch group. */
export const PATCH_GROUP_TAG = 'Patch Group';

/**
 * OS patching for a host that is never replaced: a Patch Manager baseline for AL2023 (security
 * and bug-fix updates, released for 7 days), a weekly install that reboots only when an update
 * needs it, and a daily scan for the compliance view. The host's dnf follows the latest AL2023
 * release (see HOST_PATHS.dnfReleasever): left at its AMI's release, it would see no updates.
 */
export class HostPatching extends Construct {
  readonly baseline: ssm.CfnPatchBaseline;
  readonly install: ssm.CfnAssociation;
  readonly scan: ssm.CfnAssociation;

  constructor(scope: Construct, id: string, props: HostPatchingProps) {
    super(scope, id);
    const patchGroup = `${Stack.of(this).stackName}-relay`;
    Tags.of(props.instance).add(PATCH_GROUP_TAG, patchGroup);

    this.baseline = new ssm.CfnPatchBaseline(this, 'Baseline', {
      name: `${patchGroup}-al2023`,
      description: 'llm-relay host: AL2023 security and bug-fix updates, 7 days after release',
      operatingSystem: 'AMAZON_LINUX_2023',
      patchGroups: [patchGroup],
      approvalRules: {
        patchRules: [
          {
            approveAfterDays: 7,
            complianceLevel: 'HIGH',
            enableNonSecurity: false,
            patchFilterGroup: {
              patchFilters: [
                { key: 'CLASSIFICATION', values: ['Security', 'Bugfix'] },
                { key: 'SEVERITY', values: ['Critical', 'Important', 'Medium', 'Low', 'None'] },
              ],
            },
          },
        ],
      },
    });

    const target = [{ key: 'InstanceIds', values: [props.instance.instanceId] }];
    this.install = new ssm.CfnAssociation(this, 'WeeklyInstall', {
      name: 'AWS-RunPatchBaseline',
      associationName: `${patchGroup}-weekly-install`,
      targets: target,
      scheduleExpression: props.schedule ?? 'cron(0 4 ? * SUN *)',
      // Never at deploy time: a reboot belongs in the maintenance window, not in a cdk deploy.
      applyOnlyAtCronInterval: true,
      complianceSeverity: 'HIGH',
      parameters: { Operation: ['Install'], RebootOption: ['RebootIfNeeded'] },
    });
    this.scan = new ssm.CfnAssociation(this, 'DailyScan', {
      name: 'AWS-RunPatchBaseline',
      associationName: `${patchGroup}-daily-scan`,
      targets: target,
      scheduleExpression: 'rate(1 day)',
      parameters: { Operation: ['Scan'], RebootOption: ['NoReboot'] },
    });
  }
}
