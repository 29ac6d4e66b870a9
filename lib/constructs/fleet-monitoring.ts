import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { fleetTableIndexes } from './fleet-tables.ts';
import type { FleetTableRole } from './fleet-tables.ts';
import type { AlarmFactory } from './monitoring.ts';

/** What fleet mode watches: the group's hosts, the load balancer, the shared tables. */
export interface FleetWatchTargets {
  readonly autoScalingGroupName: string;
  /** `app/<name>/<id>`: the LoadBalancer dimension. */
  readonly loadBalancerFullName: string;
  /** `targetgroup/<name>/<id>`: the TargetGroup dimension. */
  readonly targetGroupFullName: string;
  readonly tableNames: Readonly<Record<FleetTableRole, string>>;
  /** fleetMinHosts: fewer healthy hosts than this for long is a fault, not a deploy. */
  readonly minHosts: number;
}

const MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * A CloudWatch search over this group's hosts: one series per instance, labelled with its id.
 * The CloudWatch agent appends AutoScalingGroupName and InstanceId (cloudWatchAgentConfig).
 */
function perHost(group: string, schema: string, metricName: string, label: string) {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{CWAgent,${schema}} MetricName="${metricName}" AutoScalingGroupName="${group}"', 'Maximum', 60)`,
    label: `${label} \${PROP('Dim.InstanceId')}`,
    period: MINUTE,
  });
}

/**
 * Fleet panels and alarms on the relay's dashboard: every host's CPU and memory and the group's
 * size; the load balancer's errors, response time and healthy hosts; per table throttles,
 * consumed capacity, failed conditions ("ledger conflicts": a hold refused because the quota is
 * spent, or a lost race) and system errors. Alarms: too few healthy hosts, and throttles on any
 * table.
 */
export function watchFleet(
  dashboard: cloudwatch.Dashboard,
  t: FleetWatchTargets,
  alarm: AlarmFactory,
): void {
  const group = (metricName: string, label: string) =>
    new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName,
      dimensionsMap: { AutoScalingGroupName: t.autoScalingGroupName },
      statistic: 'Maximum',
      period: MINUTE,
      label,
    });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Fleet hosts: CPU (%)',
      left: [
        perHost(
          t.autoScalingGroupName,
          'AutoScalingGroupName,InstanceId,cpu',
          'cpu_usage_active',
          'cpu',
        ),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Fleet hosts: memory used (%)',
      left: [
        perHost(
          t.autoScalingGroupName,
          'AutoScalingGroupName,InstanceId',
          'mem_used_percent',
          'mem',
        ),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Fleet size',
      left: [
        group('GroupInServiceInstances', 'in service'),
        group('GroupDesiredCapacity', 'desired'),
        group('GroupPendingInstances', 'pending'),
      ],
      width: 8,
    }),
  );

  const lb = (metricName: string, statistic: string, label: string, withTargetGroup = false) =>
    new cloudwatch.Metric({
      namespace: 'AWS/ApplicationELB',
      metricName,
      dimensionsMap: {
        LoadBalancer: t.loadBalancerFullName,
        ...(withTargetGroup && { TargetGroup: t.targetGroupFullName }),
      },
      statistic,
      period: MINUTE,
      label,
    });
  const unhealthy = lb('UnHealthyHostCount', 'Maximum', 'unhealthy', true);
  const healthy = lb('HealthyHostCount', 'Minimum', 'healthy', true);
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Load balancer 5xx',
      left: [
        lb('HTTPCode_ELB_5XX_Count', 'Sum', 'from the load balancer (no healthy host, timeouts)'),
        lb('HTTPCode_Target_5XX_Count', 'Sum', 'from the relays'),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Target response time (s)',
      left: [
        lb('TargetResponseTime', 'p50', 'p50', true),
        lb('TargetResponseTime', 'p99', 'p99', true),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Hosts in the target group',
      left: [healthy, unhealthy],
      width: 8,
    }),
  );

  const table = (name: string, metricName: string, statistic: string, label: string) =>
    new cloudwatch.Metric({
      namespace: 'AWS/DynamoDB',
      metricName,
      dimensionsMap: { TableName: name },
      statistic,
      period: FIVE_MINUTES,
      label,
    });
  const index = (name: string, indexName: string, metricName: string) =>
    new cloudwatch.Metric({
      namespace: 'AWS/DynamoDB',
      metricName,
      dimensionsMap: { TableName: name, GlobalSecondaryIndexName: indexName },
      statistic: 'Sum',
      period: FIVE_MINUTES,
    });
  // A throttled write to the usage table's gsi1 throttles the table write too, but is reported
  // only under the index's dimension. Ids must be unique within a graph that shows every table;
  // FILL: a throttle metric has no data point while nothing is throttled.
  const throttles = (role: FleetTableRole, i: number) => {
    const name = t.tableNames[role];
    const indexes = fleetTableIndexes(role);
    const metrics: Record<string, cloudwatch.IMetric> = {
      [`reads${i}`]: table(name, 'ReadThrottleEvents', 'Sum', 'read throttles'),
      [`writes${i}`]: table(name, 'WriteThrottleEvents', 'Sum', 'write throttles'),
    };
    for (const indexName of indexes) {
      metrics[`${indexName}reads${i}`] = index(name, indexName, 'ReadThrottleEvents');
      metrics[`${indexName}writes${i}`] = index(name, indexName, 'WriteThrottleEvents');
    }
    return new cloudwatch.MathExpression({
      expression: `SUM([${Object.keys(metrics)
        .map((id) => `FILL(${id}, 0)`)
        .join(', ')}])`,
      usingMetrics: metrics,
      label: `${name} throttled${indexes.length ? ` (with ${indexes.join(', ')})` : ''}`,
      period: FIVE_MINUTES,
    });
  };
  const roles = Object.keys(t.tableNames) as FleetTableRole[];
  const names = roles.map((role) => t.tableNames[role]);
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'DynamoDB throttled requests',
      left: roles.map(throttles),
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'DynamoDB consumed capacity (units per 5 min)',
      left: names.map((n) => table(n, 'ConsumedReadCapacityUnits', 'Sum', `${n} RCU`)),
      right: names.map((n) => table(n, 'ConsumedWriteCapacityUnits', 'Sum', `${n} WCU`)),
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Ledger conflicts (failed conditions)',
      left: [
        table(
          t.tableNames.keys,
          'ConditionalCheckFailedRequests',
          'Sum',
          'conditional check failed',
        ),
        table(t.tableNames.keys, 'TransactionConflict', 'Sum', 'transaction conflicts'),
      ],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'DynamoDB system errors',
      left: names.map(
        (n) =>
          new cloudwatch.MathExpression({
            expression: `SEARCH('{AWS/DynamoDB,TableName,Operation} MetricName="SystemErrors" TableName="${n}"', 'Sum', 300)`,
            label: `${n} \${PROP('Dim.Operation')}`,
            period: FIVE_MINUTES,
          }),
      ),
      width: 12,
    }),
  );

  // Not on UnHealthyHostCount: every new host (deploy, scale-out, replacement) counts as
  // unhealthy while it boots. Healthy hosts below the floor for longer than a replacement takes
  // (the 10-minute health check grace plus two checks) is a fault; none at all is an outage.
  alarm('FleetBelowMinHosts', {
    alarmDescription: `Fewer than fleetMinHosts (${t.minHosts}) relay hosts pass /healthz at the load balancer for 15 minutes: the group cannot replace a host (bootstrap failing, zone or capacity trouble).`,
    metric: healthy,
    threshold: t.minHosts,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm('FleetHostRootDiskUsed', {
    alarmDescription:
      'The root disk (OS, releases, logs) of a relay host is more than 85 % full (the fullest host of the group).',
    metric: new cloudwatch.Metric({
      namespace: 'CWAgent',
      metricName: 'disk_used_percent',
      // The agent's aggregate over the group (cloudWatchAgentConfig, aggregation_dimensions).
      dimensionsMap: { AutoScalingGroupName: t.autoScalingGroupName },
      statistic: 'Maximum',
      period: FIVE_MINUTES,
    }),
    threshold: 85,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 2,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm('FleetNoHealthyHost', {
    alarmDescription:
      'No relay host passes /healthz at the load balancer for 2 minutes: every request fails with 503.',
    metric: healthy,
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  for (const [i, role] of roles.entries()) {
    const name = t.tableNames[role];
    alarm(`TableThrottles${role[0]!.toUpperCase()}${role.slice(1)}`, {
      alarmDescription: `DynamoDB throttles requests on ${name} (on-demand tables throttle past twice their previous peak, or on a hot partition).`,
      metric: throttles(role, i),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
