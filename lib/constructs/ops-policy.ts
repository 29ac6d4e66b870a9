import { Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from '../nag.ts';

export interface OpsReadOnlyPolicyProps {
  /** The relay's JSON log group (Logs Insights and FilterLogEvents, as `npm run logs` uses). */
  readonly logGroupName: string;
  /** The relay host: the only target of Session Manager sessions (one of this and `hostTag`). */
  readonly instance?: ec2.IInstance;
  /**
   * A fleet: the tag every relay host carries (set at launch by its group); sessions may open on
   * instances with exactly this tag.
   */
  readonly hostTag?: { readonly key: string; readonly value: string };
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
      resourceName: props.instance?.instanceId ?? '*',
    });
    const sessionDocument = stack.formatArn({
      service: 'ssm',
      resource: 'document',
      resourceName: props.sessionDocumentName,
    });
    const ownSessions = `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:session/\${aws:userid}-*`;

    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: `llm-relay ops: read the relay log, dashboards, metrics and alarms; SSM shell on the ${props.hostTag ? 'fleet hosts' : 'host'}`,
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
        ...shellStatements(instanceArn, sessionDocument, props.hostTag),
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
    if (props.hostTag) {
      acknowledgeWildcardResource(
        this.policy,
        instanceArn,
        'Fleet hosts come and go with their Auto Scaling group: sessions are limited to instances carrying the relay host tag the group sets at launch.',
      );
    }
    acknowledgeWildcardResource(
      this.policy,
      ownSessions,
      "Session Manager names each session after the caller's user id: an operator may end or resume only their own sessions.",
    );
  }
}

/**
 * Session Manager shells: on the one host, or on the instances tagged as fleet hosts, with the
 * unprivileged session document only.
 */
function shellStatements(
  instanceArn: string,
  sessionDocument: string,
  hostTag: OpsReadOnlyPolicyProps['hostTag'],
): iam.PolicyStatement[] {
  // Without it, a session that names no document gets SSM-SessionManagerRunShell unchecked: a
  // shell as ssm-user, who has sudo. With it, only the unprivileged one.
  const documentCheck = { BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' } };
  if (!hostTag) {
    return [
      new iam.PolicyStatement({
        sid: 'ShellOnTheRelayHost',
        actions: ['ssm:StartSession'],
        resources: [instanceArn, sessionDocument],
        conditions: documentCheck,
      }),
    ];
  }
  return [
    new iam.PolicyStatement({
      sid: 'ShellOnTheRelayHosts',
      actions: ['ssm:StartSession'],
      resources: [instanceArn],
      conditions: {
        ...documentCheck,
        StringEquals: { [`ssm:resourceTag/${hostTag.key}`]: hostTag.value },
      },
    }),
    new iam.PolicyStatement({
      sid: 'WithTheOpsSessionDocument',
      actions: ['ssm:StartSession'],
      resources: [sessionDocument],
      conditions: documentCheck,
    }),
  ];
}
