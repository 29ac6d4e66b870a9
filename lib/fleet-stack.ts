import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { FleetConfig } from './config.ts';
import { RelayNetwork } from './constructs/network.ts';
import { OriginSecret } from './constructs/origin-secret.ts';
import { OpsReadOnlyPolicy } from './constructs/ops-policy.ts';
import { OpsSessionDocument } from './constructs/ops-session.ts';
import { FLEET_HOST_TAG, FLEET_LISTENER_PORT, RelayFleet } from './constructs/relay-fleet.ts';
import { RelayOrigin } from './constructs/relay-origin.ts';
import { hostProps, serveApi } from './relay-stack.ts';
import type { RelayStackProps } from './relay-stack.ts';

export interface FleetRelayStackProps extends Omit<
  RelayStackProps,
  | 'availabilityZone'
  | 'dataVolumeGiB'
  | 'dataVolumeSnapshotId'
  | 'backupRetentionDays'
  | 'backupVault'
  | 'patchSchedule'
  | 'originType'
  | 'cloudfrontPrefixListId'
  | 'deployNonce'
> {
  readonly fleet: FleetConfig;
}

/**
 * Fleet mode (`-c fleet=true`): the relay hosts in an Auto Scaling group across zones behind an
 * internal load balancer, CloudFront in front through a VPC origin, state in the DynamoDB tables
 * of the Stateful stack. No data volume and no backups here: nothing on a host outlives it.
 */
export class FleetRelayStack extends Stack {
  readonly host: RelayFleet;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: FleetRelayStackProps) {
    super(scope, id, { terminationProtection: true, ...props });
    const { fleet } = props;
    const network = new RelayNetwork(this, 'Network', {
      zones: fleet.availabilityZones?.length ?? 2,
      availabilityZones: fleet.availabilityZones,
      singleNatGateway: fleet.singleNatGateway,
      privateHost: true,
    });
    const originSecret = new OriginSecret(this, 'OriginSecret').secret;
    const readTimeout = Duration.seconds(props.originReadTimeoutSeconds ?? 60);

    this.host = new RelayFleet(this, 'Fleet', {
      vpc: network.vpc,
      subnets: network.hostSubnets,
      ...hostProps(props, originSecret, readTimeout),
      minHosts: fleet.minHosts,
      maxHosts: fleet.maxHosts,
      desiredHosts: fleet.desiredHosts,
      cpuTargetPercent: fleet.cpuTargetPercent,
      tablePrefix: fleet.tablePrefix,
    });
    // cfn-init downloads the bundle from S3 while the hosts start.
    this.host.autoScalingGroup.node.addDependency(network.s3Endpoint);

    const origin = new RelayOrigin(this, 'Origin', {
      loadBalancer: this.host.loadBalancer,
      securityGroup: this.host.loadBalancerSecurityGroup,
      vpc: network.vpc,
      subnets: network.hostSubnets,
      port: FLEET_LISTENER_PORT,
      originSecret,
      type: 'vpc-origin',
      readTimeout,
    });
    this.distribution = serveApi(this, origin, props);

    const opsSession = new OpsSessionDocument(this, 'OpsSession');
    const opsPolicy = new OpsReadOnlyPolicy(this, 'Ops', {
      logGroupName: props.logGroupName,
      hostTag: FLEET_HOST_TAG,
      sessionDocumentName: opsSession.documentName,
    }).policy;

    const names = fleetIdParameterNames(props.ssmPrefix ?? '/llm-relay');
    const publish = (id: string, parameterName: string, stringValue: string, what: string) =>
      new ssm.StringParameter(this, id, {
        parameterName,
        description: `${what} (read by the Monitoring stack)`,
        stringValue,
      });
    publish(
      'GroupNameParameter',
      names.autoScalingGroupName,
      this.host.autoScalingGroup.autoScalingGroupName,
      'Name of the llm-relay Auto Scaling group',
    );
    publish(
      'LoadBalancerParameter',
      names.loadBalancerFullName,
      this.host.loadBalancer.loadBalancerFullName,
      'Full name of the llm-relay load balancer',
    );
    publish(
      'TargetGroupParameter',
      names.targetGroupFullName,
      this.host.targetGroup.targetGroupFullName,
      'Full name of the llm-relay target group',
    );
    publish(
      'DistributionIdParameter',
      names.distributionId,
      this.distribution.distributionId,
      'Id of the llm-relay CloudFront distribution',
    );

    new CfnOutput(this, 'AutoScalingGroupName', {
      value: this.host.autoScalingGroup.autoScalingGroupName,
      description: 'aws autoscaling start-instance-refresh --auto-scaling-group-name <this>',
    });
    new CfnOutput(this, 'TablePrefix', { value: fleet.tablePrefix });
    new CfnOutput(this, 'OpsReadOnlyPolicyArn', {
      value: opsPolicy.managedPolicyArn,
      description:
        'Attach to the ops role or group: logs, dashboards, alarms, SSM shell on the fleet hosts',
    });
    new CfnOutput(this, 'OpsSessionDocument', {
      value: opsSession.documentName,
      description:
        'aws ssm start-session --target <a fleet host> --document-name <this>: an unprivileged shell',
    });
    new CfnOutput(this, 'RelayBuild', {
      value: this.host.buildId,
      description: 'Build id of the relay bundle this deploy shipped; /healthz reports it',
    });
  }
}

/** SSM parameters holding what the Monitoring stack watches in fleet mode. */
export function fleetIdParameterNames(ssmPrefix: string): {
  readonly autoScalingGroupName: string;
  readonly loadBalancerFullName: string;
  readonly targetGroupFullName: string;
  readonly distributionId: string;
} {
  return {
    autoScalingGroupName: `${ssmPrefix}/stack/auto-scaling-group-name`,
    loadBalancerFullName: `${ssmPrefix}/stack/load-balancer-full-name`,
    targetGroupFullName: `${ssmPrefix}/stack/target-group-full-name`,
    distributionId: `${ssmPrefix}/stack/distribution-id`,
  };
}
