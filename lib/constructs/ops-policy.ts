import { Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.ts';

export interface OpsReadOnlyPolicyProps {
  /** The relay's JSON log group (Logs Insights and FilterLogEvents, as `npm run logs` uses). */
  readonly logGroupName: string;
  /** The relay host: the only target of Session Manager sessions. */
  readonly instance: ec2.IInstance;
  /** Name of the Session document ops shells must use (see OpsSessionDocument). */
  readonly sessionDocumentName: string;
}

/**
 * What an operator watching the relay needs and nothing more: read the relay's log group (Logs
 * Insights queries, FilterLogEvents), read dashboards, metrics and alarms, and open a Session
 * Manager shell on this one host, as an unprivileged user (OpsSessionDocument). Attach it to the
 * ops team's role or group.
 */
export class OpsReadOnlyPolicy extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: OpsReadOnlyPolicyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logGroupArn = `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:${props.logGroupName}`;
    const instanceArn = stack.formatArn({
      service: 'ec2',
      resource: 'instance',
      resourceName: props.instance.instanceId,
    });
    const sessionDocument = stack.formatArn({
      service: 'ssm',
      resource: 'document',
      resourceName: props.sessionDocumentName,
    });
    const ownSessions = `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:session/\${aws:userid}-*`;

    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description:
        'llm-relay ops: read the relay log, dashboards, metrics and alarms; SSM shell on the host',
      statements: [
        new iam.PolicyStatement({
          sid: 'RelayLogRead',
          actions: [
            'logs:StartQuery',
            'logs:FilterLogEvents',
            'logs:GetLogEvents',
            'logs:DescribeLogStreams',
            'logs:GetLogGroupFields',
          ],
          resources: [logGroupArn, `${logGroupArn}:*`],
        }),
        new iam.PolicyStatement({
          sid: 'ReadWithoutResourceLevelPermissions',
          actions: [
            'logs:GetQueryResults',
            'logs:StopQuery',
            'logs:DescribeQueries',
            'logs:DescribeLogGroups',
            'cloudwatch:GetDashboard',
            'cloudwatch:ListDashboards',
            'cloudwatch:GetMetricData',
            'cloudwatch:GetMetricStatistics',
            'cloudwatch:ListMetrics',
            'cloudwatch:DescribeAlarms',
            'cloudwatch:DescribeAlarmHistory',
            'ssm:DescribeSessions',
            'ssm:GetConnectionStatus',
            'ssm:DescribeInstanceInformation',
          ],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'ShellOnTheRelayHost',
          actions: ['ssm:StartSession'],
          resources: [instanceArn, sessionDocument],
          // Without it, a session that names no document gets SSM-SessionManagerRunShell
          // unchecked: a shell as ssm-user, who has sudo. With it, only the unprivileged one.
          conditions: { BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' } },
        }),
        new iam.PolicyStatement({
          sid: 'OwnSessionsOnly',
          actions: ['ssm:TerminateSession', 'ssm:ResumeSession'],
          resources: [ownSessions],
        }),
      ],
    });
    Validations.of(this.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only read actions that IAM cannot scope to a resource (Logs Insights results, dashboards and metric reads, alarm and session listings); nothing here changes anything.',
    });
    acknowledgeWildcardResource(
      this.policy,
      `${logGroupArn}:*`,
      "The relay log group's streams (one per instance): Logs actions on streams are authorized against <group ARN>:*.",
    );
    acknowledgeWildcardResource(
      this.policy,
      ownSessions,
      "Session Manager names each session after the caller's user id: an operator may end or resume only their own sessions.",
    );
  }
}
