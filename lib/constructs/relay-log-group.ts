import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface RelayLogGroupProps {
  /**
   * Log group name; the ops `logs` script and the agent config use the same name.
   * @default '/llm-relay/relay'
   */
  readonly logGroupName?: string;
  /**
   * Days to keep the relay's request log.
   * @default 30
   */
  readonly retentionDays?: number;
}

/**
 * The relay's JSON request log (one Embedded Metric Format line per request). Created here rather
 * than by the agent so the retention period is set and the group outlives the relay host.
 */
export class RelayLogGroup extends Construct {
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RelayLogGroupProps = {}) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: props.logGroupName ?? '/llm-relay/relay',
      retention: (props.retentionDays ?? 30) as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
