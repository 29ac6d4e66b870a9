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
   * A fleet: private subnets in this many zones (or in `availabilityZones`), for hosts and the
   * internal load balancer. Overrides `availabilityZone`; needs `privateHost`.
   * @default - one zone
   */
  readonly zones?: number;
  /** The fleet's zones, when they must be chosen (instance type offerings). */
  readonly availabilityZones?: readonly string[];
  /**
   * A fleet: one NAT gateway for all zones instead of one per zone. Cheaper, but the hosts of
   * every zone lose their way out (providers, SSM, CloudWatch) when that one zone fails.
   * @default false
   */
  readonly singleNatGateway?: boolean;
  /**
   * Put the host in a private subnet that reaches the internet through a NAT gateway (in the
   * public subnet). CloudFront VPC origins only reach instances in private subnets; the
   * public-DNS origin needs the host in the public subnet instead.
   * @default true
   */
  readonly privateHost?: boolean;
  /**
   * Days to keep VPC flow logs of rejected traffic.
   * @default 30
   */
  readonly flowLogRetentionDays?: number;
}

/** Subnet ranges: a /24 VPC split into /26s, one per kind. */
const SUBNET_CIDR_MASK = 26;

/**
 * A VPC in one Availability Zone. With a private host (the VPC-origin default): a public subnet
 * holding only the NAT gateway, and a private subnet for the host, whose way out (dnf, SSM,
 * CloudFormation, the providers' APIs) is that NAT gateway. With the public-DNS origin: only the
 * public subnet, where the host holds an Elastic IP. Either way S3 (assets, images, backups) is
 * reached through a free gateway endpoint, not the NAT's per-GB charge.
 */
export class RelayNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where the host lives: private with a NAT gateway, or public. */
  readonly subnet: ec2.ISubnet;
  /** Every host subnet: the one above, or a fleet's private subnet in each zone. */
  readonly hostSubnets: readonly ec2.ISubnet[];
  readonly privateHost: boolean;
  /** The S3 gateway endpoint: the host's cfn-init should find its route in place. */
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: RelayNetworkProps = {}) {
    super(scope, id);
    this.privateHost = props.privateHost ?? true;
    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: SUBNET_CIDR_MASK },
    ];
    if (this.privateHost) {
      subnetConfiguration.push({
        name: 'host',
        subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
        cidrMask: SUBNET_CIDR_MASK,
      });
    }
    const fleet = props.zones !== undefined || props.availabilityZones !== undefined;
    const zones = props.availabilityZones
      ? { availabilityZones: [...props.availabilityZones] }
      : fleet
        ? { maxAzs: props.zones }
        : props.availabilityZone
          ? { availabilityZones: [props.availabilityZone] }
          : { maxAzs: 1 };
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      // Two /26s per zone: a /22 leaves room for a fleet in up to eight zones.
      ipAddresses: ec2.IpAddresses.cidr(fleet ? '10.80.0.0/22' : '10.80.0.0/24'),
      ...zones,
      // A NAT gateway costs ~$33/month plus $0.045/GB in us-east-1, and only a private host
      // needs one. A fleet gets one per zone (the default), so losing a zone does not cut the
      // other zones' hosts off the providers; undefined means one per zone.
      natGateways: !this.privateHost ? 0 : fleet && !props.singleNatGateway ? undefined : 1,
      subnetConfiguration,
      // Restricting the unused default group costs a custom-resource Lambda; nothing uses it.
      restrictDefaultSecurityGroup: false,
    });
    this.subnet = this.privateHost ? this.vpc.privateSubnets[0]! : this.vpc.publicSubnets[0]!;
    this.hostSubnets = fleet ? this.vpc.privateSubnets : [this.subnet];
    // The asset download, image writes and hourly backups stay off the NAT gateway's meter.
    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnets: [...this.hostSubnets] }],
    });
    // Fleet hosts keep their state in DynamoDB: every request's reads and writes stay off the
    // NAT gateway too (a gateway endpoint is free).
    if (fleet) {
      this.vpc.addGatewayEndpoint('DynamoDb', {
        service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
        subnets: [{ subnets: [...this.hostSubnets] }],
      });
    }
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
