import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { BACKUP_FAILED_MESSAGE } from '../../app/src/store/backup-messages.ts';
import { DATA_DISK_DIMENSIONS, ROOT_DISK_DIMENSIONS } from './relay-host-files.ts';
import { watchFleet } from './fleet-monitoring.ts';
import type { FleetWatchTargets } from './fleet-monitoring.ts';

/** Embedded Metric Format names the relay emits (CONTRACTS.md): namespace, dimensions, metrics. */
export const RELAY_METRICS = {
  namespace: 'LlmRelay',
  service: 'llm-relay',
} as const;

export interface RelayMonitoringProps {
  /** The single host (with its data volume and backups); unset in fleet mode. */
  readonly host?: {
    readonly instanceId: string;
    /** The AWS Backup vault of the data volume: its failed jobs notify the alarm topic. */
    readonly backupVaultName: string;
  };
  /** Fleet mode: the group, load balancer and tables to watch. */
  readonly fleet?: FleetWatchTargets;
  readonly distributionId: string;
  /** The relay's log group: its failed S3 backups become a metric and an alarm. */
  readonly relayLogGroupName: string;
  /**
   * Email address subscribed to the alarm topic.
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
  /**
   * Hours without a single relay request before the idle alarm fires; 0 turns it off.
   * @default 24
   */
  readonly idleAlarmHours?: number;
  /**
   * Dashboard name.
   * @default 'llm-relay'
   */
  readonly dashboardName?: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Creates an alarm that notifies the topic (on ALARM and OK), with extra actions. */
export type AlarmFactory = (
  id: string,
  alarmProps: cloudwatch.AlarmProps,
  ...extra: cloudwatch.IAlarmAction[]
) => cloudwatch.Alarm;

/** The ops dashboard and the alarms (to one SNS topic) for the relay host, relay and CloudFront. */
export class RelayMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: RelayMonitoringProps) {
    super(scope, id);
    const region = Stack.of(this).region;

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'llm-relay alarms',
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry metric names and thresholds only; CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer key is not worth it for this data.',
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const notify = new actions.SnsAction(this.topic);

    const relay = (metricName: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({
        namespace: RELAY_METRICS.namespace,
        metricName,
        dimensionsMap: { Service: RELAY_METRICS.service },
        statistic,
        period: FIVE_MINUTES,
        label,
      });
    const requests = relay('Requests', 'Sum', 'requests');
    const errors4xx = relay('Errors4xx', 'Sum', '4xx');
    const errors5xx = relay('Errors5xx', 'Sum', '5xx');
    const byModel = (metricName: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${RELAY_METRICS.namespace},Service,Model} MetricName="${metricName}" Service="${RELAY_METRICS.service}"', 'Sum', 300)`,
        // A fixed label would name every series of the search alike; the dynamic label adds the
        // model each series belongs to.
        label: `${label} \${PROP('Dim.Model')}`,
        period: FIVE_MINUTES,
      });

    // CloudFront publishes its metrics in us-east-1 only, with Region=Global.
    const edge = (metricName: string, statistic: string, label: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/CloudFront',
        metricName,
        dimensionsMap: { DistributionId: props.distributionId, Region: 'Global' },
        statistic,
        period: FIVE_MINUTES,
        region: 'us-east-1',
        label,
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'llm-relay',
      defaultInterval: Duration.hours(24),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Relay requests and errors',
        left: [requests, errors4xx, errors5xx],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Latency (ms)',
        left: [relay('Latency', 'p50', 'p50'), relay('Latency', 'p99', 'p99')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Time to first byte (ms)',
        left: [relay('TimeToFirstByte', 'p50', 'p50'), relay('TimeToFirstByte', 'p99', 'p99')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Relay overhead (ms, without upstream waits)',
        left: [relay('RelayOverhead', 'p50', 'p50'), relay('RelayOverhead', 'p99', 'p99')],
        width: 24,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Tokens by model',
        left: [byModel('PromptTokens', 'prompt'), byModel('CompletionTokens', 'completion')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Cost by model (USD)',
        left: [byModel('CostUSD', 'cost')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'CloudFront requests',
        left: [edge('Requests', 'Sum', 'requests')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'CloudFront error rates (%)',
        left: [edge('4xxErrorRate', 'Average', '4xx %'), edge('5xxErrorRate', 'Average', '5xx %')],
        width: 12,
      }),
    );

    const alarm: AlarmFactory = (id, alarmProps, ...extra) => {
      const a = new cloudwatch.Alarm(this, id, alarmProps);
      a.addAlarmAction(notify, ...extra);
      a.addOkAction(notify);
      this.alarms.push(a);
      return a;
    };

    alarm('Relay5xxRate', {
      alarmDescription: 'More than 5 % of relay requests end in 5xx (upstream failures or bugs).',
      metric: new cloudwatch.MathExpression({
        expression: 'IF(requests > 0, 100 * errors / requests, 0)',
        usingMetrics: { requests, errors: errors5xx },
        period: FIVE_MINUTES,
        label: 'relay 5xx %',
      }),
      threshold: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // An alarm can only watch metrics of its own region, and CloudFront's live in us-east-1.
    if (region === 'us-east-1') {
      alarm('Edge5xxRate', {
        alarmDescription: 'More than 5 % of CloudFront responses are 5xx (origin unreachable?).',
        metric: edge('5xxErrorRate', 'Average', 'CloudFront 5xx %'),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    if (props.host) this.watchHost(props.host.instanceId, alarm);
    const idleHours = props.idleAlarmHours ?? 24;
    if (idleHours > 0) {
      alarm('NoRequests', {
        alarmDescription: `No relay request for ${idleHours} h although clients are expected: the relay, its log shipping or the edge is broken.`,
        metric: relay('Requests', 'Sum', 'requests').with({ period: Duration.hours(1) }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: idleHours,
        // No EMF line at all is exactly the failure this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }

    if (props.host) this.watchBackups(props.relayLogGroupName, props.host.backupVaultName, alarm);
    if (props.fleet) watchFleet(this.dashboard, props.fleet, alarm);
  }

  /** The single host: CPU, memory, both disks, status checks (with recovery and reboot). */
  private watchHost(instanceId: string, alarm: AlarmFactory): void {
    const host = { InstanceId: instanceId };
    const cpu = new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensionsMap: host,
      statistic: 'Average',
      period: FIVE_MINUTES,
    });
    // Exactly the dimensions the agent publishes (append_dimensions InstanceId, drop_device).
    const memory = new cloudwatch.Metric({
      namespace: 'CWAgent',
      metricName: 'mem_used_percent',
      dimensionsMap: host,
      statistic: 'Maximum',
      period: FIVE_MINUTES,
    });
    const diskUsed = (dimensions: Readonly<Record<string, string>>) =>
      new cloudwatch.Metric({
        namespace: 'CWAgent',
        metricName: 'disk_used_percent',
        dimensionsMap: { ...host, ...dimensions },
        statistic: 'Maximum',
        period: FIVE_MINUTES,
      });
    const disk = diskUsed(ROOT_DISK_DIMENSIONS);
    const dataDisk = diskUsed(DATA_DISK_DIMENSIONS);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Host CPU (%)', left: [cpu], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Host memory used (%)', left: [memory], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Host disks used (%)',
        left: [
          disk.with({ label: 'root (OS, releases, logs)' }),
          dataDisk.with({ label: 'data volume (SQLite)' }),
        ],
        width: 8,
      }),
    );
    alarm(
      'HostSystemStatus',
      {
        alarmDescription: 'The host failed its system status check; EC2 recovers it in place.',
        metric: new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName: 'StatusCheckFailed_System',
          dimensionsMap: host,
          statistic: 'Maximum',
          period: Duration.minutes(1),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      },
      // Recovery keeps the instance id, its ENI and addresses (private, and the Elastic IP with the
      // public-DNS origin) and its EBS volumes: the VPC origin and everything downstream stay.
      new actions.Ec2Action(actions.Ec2InstanceAction.RECOVER),
    );
    alarm(
      'HostInstanceStatus',
      {
        alarmDescription: 'The host failed its instance status check; it is rebooted.',
        metric: new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName: 'StatusCheckFailed_Instance',
          dimensionsMap: host,
          statistic: 'Maximum',
          period: Duration.minutes(1),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      },
      new actions.Ec2Action(actions.Ec2InstanceAction.REBOOT),
    );
    alarm('HostDataDiskUsed', {
      alarmDescription:
        'The data volume (the SQLite database) is more than 80 % full: raise dataVolumeGiB and deploy.',
      metric: dataDisk,
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      // No data point means the agent or the mount is gone, which needs a look as much.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    alarm('HostDiskUsed', {
      alarmDescription: 'Root disk (OS, releases, logs) is more than 85 % full.',
      metric: disk,
      threshold: 85,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    alarm('HostMemoryUsed', {
      alarmDescription: 'Host memory is more than 90 % used.',
      metric: memory,
      threshold: 90,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  /**
   * Both kinds of backup fail quietly otherwise: the relay only logs a failed hourly copy to S3
   * (and retries the next hour), and AWS Backup only records a failed daily job in its console.
   */
  private watchBackups(
    relayLogGroupName: string,
    backupVaultName: string,
    alarm: AlarmFactory,
  ): void {
    const failures = new logs.MetricFilter(this, 'BackupFailedFilter', {
      logGroup: logs.LogGroup.fromLogGroupName(this, 'RelayLog', relayLogGroupName),
      // pino's message field, the exact text the relay logs (app/src/store/backup.ts).
      filterPattern: logs.FilterPattern.stringValue('$.msg', '=', BACKUP_FAILED_MESSAGE),
      metricNamespace: RELAY_METRICS.namespace,
      metricName: 'BackupFailures',
      metricValue: '1',
    });
    alarm('BackupFailed', {
      alarmDescription:
        'The relay could not copy its database to S3 (it retries hourly): see "database backup failed" in its log.',
      metric: failures.metric({ statistic: 'Sum', period: Duration.hours(1) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    new events.Rule(this, 'BackupJobFailed', {
      description: 'AWS Backup jobs of the llm-relay data volume that did not complete',
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Backup Job State Change'],
        detail: {
          state: ['FAILED', 'ABORTED', 'EXPIRED'],
          backupVaultName: [backupVaultName],
        },
      },
      targets: [new targets.SnsTopic(this.topic)],
    });
  }
}
