import { CfnOutput, CfnParameter, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { FleetWatchTargets } from './constructs/fleet-monitoring.ts';
import { RelayMonitoring } from './constructs/monitoring.ts';

export interface MonitoringStackProps extends StackProps {
  /** The single host: the SSM parameter holding its instance id, and its backup vault. */
  readonly host?: {
    readonly instanceIdParameterName: string;
    readonly backupVaultName: string;
  };
  /** Fleet mode: SSM parameters holding the group and load balancer names, and the tables. */
  readonly fleet?: {
    readonly autoScalingGroupNameParameterName: string;
    readonly loadBalancerFullNameParameterName: string;
    readonly targetGroupFullNameParameterName: string;
    readonly tableNames: FleetWatchTargets['tableNames'];
    readonly minHosts: number;
  };
  /** SSM parameter holding the distribution's id (written by the Relay stack). */
  readonly distributionIdParameterName: string;
  readonly relayLogGroupName: string;
  /** @default - no email subscription */
  readonly alarmEmail?: string;
  /** @default 24 */
  readonly idleAlarmHours?: number;
  /** @default 'llm-relay' */
  readonly dashboardName?: string;
}

/** Dashboard and alarms; separate so they can change without touching the relay stack. */
export class MonitoringStack extends Stack {
  readonly monitoring: RelayMonitoring;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    // The ids come from SSM parameters the Relay stack writes, resolved by CloudFormation at
    // every update; the CDK CLI never skips a stack with such parameters. A strong reference
    // (an export in use cannot change) would fail the Relay stack's update when the instance is
    // replaced; a weak one (Fn::GetStackOutput) leaves this template unchanged, so the CLI would
    // skip it and the alarms would keep watching the old instance.
    const ssmValue = (id: string, name: string) =>
      new CfnParameter(this, id, {
        type: 'AWS::SSM::Parameter::Value<String>',
        default: name,
        description: `SSM parameter with the relay's ${id} (written by the Relay stack)`,
      }).valueAsString;
    const { host, fleet } = props;
    this.monitoring = new RelayMonitoring(this, 'Monitoring', {
      ...(host && {
        host: {
          instanceId: ssmValue('InstanceId', host.instanceIdParameterName),
          backupVaultName: host.backupVaultName,
        },
      }),
      ...(fleet && {
        fleet: {
          autoScalingGroupName: ssmValue(
            'AutoScalingGroupName',
            fleet.autoScalingGroupNameParameterName,
          ),
          loadBalancerFullName: ssmValue(
            'LoadBalancerFullName',
            fleet.loadBalancerFullNameParameterName,
          ),
          targetGroupFullName: ssmValue(
            'TargetGroupFullName',
            fleet.targetGroupFullNameParameterName,
          ),
          tableNames: fleet.tableNames,
          minHosts: fleet.minHosts,
        },
      }),
      distributionId: ssmValue('DistributionId', props.distributionIdParameterName),
      relayLogGroupName: props.relayLogGroupName,
      alarmEmail: props.alarmEmail,
      idleAlarmHours: props.idleAlarmHours,
      dashboardName: props.dashboardName,
    });
    const name = this.monitoring.dashboard.dashboardName;
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${name}`,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
  }
}
