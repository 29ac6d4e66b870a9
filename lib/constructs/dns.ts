import { RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

export interface RelayHostedZoneProps {
  /** The zone's DNS name, e.g. example.com. */
  readonly zoneName: string;
  /**
   * Id of an existing zone to use instead of creating one. Imported by id, never looked up, so
   * synth stays offline.
   * @default - a new public hosted zone is created
   */
  readonly hostedZoneId?: string;
}

/** The public hosted zone that holds the API domain (created, or imported by id). */
export class RelayHostedZone extends Construct {
  readonly zone: route53.IHostedZone;
  /**
   * Name servers of a created zone, to set at the registrar; undefined for an imported zone,
   * whose delegation already exists.
   */
  readonly nameServers?: string[];

  constructor(scope: Construct, id: string, props: RelayHostedZoneProps) {
    super(scope, id);
    if (props.hostedZoneId) {
      this.zone = route53.PublicHostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: props.hostedZoneId,
        zoneName: props.zoneName,
      });
      return;
    }
    const zone = new route53.PublicHostedZone(this, 'Zone', { zoneName: props.zoneName });
    // Its name servers are at the registrar: a new zone after a replacement or a stack deletion
    // would get different ones, and the domain would stop resolving until the registrar changed.
    zone.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.zone = zone;
    this.nameServers = zone.hostedZoneNameServers;
  }
}

export interface ApiAliasRecordsProps {
  readonly zone: route53.IHostedZone;
  /** Fully qualified API domain, e.g. api.example.com. */
  readonly domainName: string;
  readonly distribution: cloudfront.IDistribution;
}

/** A and AAAA alias records pointing the API domain at the CloudFront distribution. */
export class ApiAliasRecords extends Construct {
  constructor(scope: Construct, id: string, props: ApiAliasRecordsProps) {
    super(scope, id);
    const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(props.distribution));
    const recordName = `${props.domainName}.`;
    new route53.ARecord(this, 'A', { zone: props.zone, recordName, target });
    new route53.AaaaRecord(this, 'Aaaa', { zone: props.zone, recordName, target });
  }
}
