import { CfnOutput, CrossStackReferences, ReferenceStrength, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RelayMonitoring } from './constructs/monitoring.ts';

export interface MonitoringStackProps extends StackProps {
  readonly instanceId: string;
  readonly distributionId: string;
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
    // The instance and distribution ids as weak references (Fn::GetStackOutput): an export in use
    // cannot change, so a strong one would fail the Relay stack's update whenever the instance is
    // replaced (originType or availabilityZone switched). This stack deploys after the Relay
    // stack and follows the new ids. (Set before any child: it is construct context.)
    CrossStackReferences.of(this).consume(ReferenceStrength.WEAK);
    this.monitoring = new RelayMonitoring(this, 'Monitoring', {
      instanceId: props.instanceId,
      distributionId: props.distributionId,
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
