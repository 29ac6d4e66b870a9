import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface RelayNetworkProps {
  /**
   * The one Availability Zone, e.g. us-east-1b. Not every instance type is offered in every zone
   * (Graviton t4g is missing from some), so pick one that offers yours.
   * @default - the region's first zone by name
   */
  readonly availabilityZone?: string;
  /**
   * Days to keep VPC flow logs of rejected traffic.
   * @default 30
   */
  readonly flowLogRetentionDays?: number;
}

/**
 * A VPC with one public subnet: the host needs a public address for CloudFront and the upstream
 * providers, and nothing here justifies a NAT gateway's cost.
 */
export class RelayNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where the host lives. */
  readonly subnet: ec2.ISubnet;

  constructor(scope: Construct, id: string, props: RelayNetworkProps = {}) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.80.0.0/24'),
      ...(props.availabilityZone ? { availabilityZones: [props.availabilityZone] } : { maxAzs: 1 }),
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26 }],
      // Restricting the unused default group costs a custom-resource Lambda; nothing uses it.
      restrictDefaultSecurityGroup: false,
    });
    this.subnet = this.vpc.publicSubnets[0]!;
    // Only rejected traffic: that is what shows scans against the host, and it stays cheap.
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: (props.flowLogRetentionDays ?? 30) as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('Rejected', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
  }
}
