import { CrossStackReferences, ReferenceStrength, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import { ApiCertificate } from './constructs/certificate.ts';
import { RelayWebAcl } from './constructs/web-acl.ts';

export interface CertificateStackProps extends StackProps {
  readonly domainName: string;
  readonly zone: route53.IHostedZone;
  /**
   * The WAF web ACL for the distribution; undefined leaves it out.
   * @default - no web ACL
   */
  readonly waf?: { readonly rateLimit: number };
}

/**
 * Always in us-east-1, the only region CloudFront takes certificates and web ACLs from: the API
 * certificate and, unless turned off, the WAF web ACL.
 */
export class CertificateStack extends Stack {
  readonly certificate: acm.ICertificate;
  readonly webAclArn?: string;

  constructor(scope: Construct, id: string, props: CertificateStackProps) {
    super(scope, id, props);
    if (this.region !== 'us-east-1') {
      throw new Error(`CertificateStack must be deployed to us-east-1, not ${this.region}`);
    }
    const certificate = new ApiCertificate(this, 'Api', {
      domainName: props.domainName,
      zone: props.zone,
    }).certificate;
    this.certificate = certificate;
    // Weak references (Fn::GetStackOutput in the relay stack, read at its deploy): a strong one
    // across regions is an ExportsWriter parameter that refuses to change while the relay stack
    // reads it, so a replaced certificate (a new apiDomain) or web ACL would fail this stack's
    // update. Weak, the new one is created here, the relay stack picks it up in the same
    // `cdk deploy --all`, and the old one is left for CloudFormation's cleanup.
    CrossStackReferences.of(certificate).produce(ReferenceStrength.WEAK);
    if (props.waf) {
      const webAcl = new RelayWebAcl(this, 'Waf', { rateLimit: props.waf.rateLimit }).webAcl;
      CrossStackReferences.of(webAcl).produce(ReferenceStrength.WEAK);
      this.webAclArn = webAcl.attrArn;
    }
  }
}
