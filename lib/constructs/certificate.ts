import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';

export interface ApiCertificateProps {
  /** Fully qualified API domain the certificate covers. */
  readonly domainName: string;
  /** Zone where ACM's validation CNAME is written. */
  readonly zone: route53.IHostedZone;
}

/**
 * TLS certificate for the API domain, DNS-validated in the relay's zone. CloudFront only accepts
 * certificates from us-east-1, so the stack holding this construct must live there.
 */
export class ApiCertificate extends Construct {
  readonly certificate: acm.ICertificate;

  constructor(scope: Construct, id: string, props: ApiCertificateProps) {
    super(scope, id);
    this.certificate = new acm.Certificate(this, 'Certificate', {
      domainName: props.domainName,
      validation: acm.CertificateValidation.fromDns(props.zone),
    });
  }
}
