import { Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import { ApiCertificate } from './constructs/certificate.ts';

export interface CertificateStackProps extends StackProps {
  readonly domainName: string;
  readonly zone: route53.IHostedZone;
}

/** Always in us-east-1, the only region CloudFront takes certificates from. */
export class CertificateStack extends Stack {
  readonly certificate: acm.ICertificate;

  constructor(scope: Construct, id: string, props: CertificateStackProps) {
    super(scope, id, props);
    if (this.region !== 'us-east-1') {
      throw new Error(`CertificateStack must be deployed to us-east-1, not ${this.region}`);
    }
    this.certificate = new ApiCertificate(this, 'Api', {
      domainName: props.domainName,
      zone: props.zone,
    }).certificate;
  }
}
