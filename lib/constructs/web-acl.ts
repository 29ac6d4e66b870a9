import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface RelayWebAclProps {
  /**
   * Requests one IP address may send in any 5 minutes before it is blocked (429) for a while.
   * @default 2000
   */
  readonly rateLimit?: number;
  /**
   * Prefix of the web ACL's CloudWatch metric names.
   * @default 'llm-relay'
   */
  readonly metricPrefix?: string;
}

/** The OpenAI error shape, so SDKs surface a WAF block like any other rate limit. */
const RATE_LIMITED_BODY = JSON.stringify({
  error: {
    message: 'Too many requests from this IP address. Slow down and retry in a few minutes.',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    param: null,
  },
});

/**
 * A CLOUDFRONT-scope web ACL (so its stack must be in us-east-1): AWS's IP reputation list (bots,
 * scanners, known attackers) and a per-IP rate limit that blocks a flood before it reaches the
 * relay or spends anyone's quota. Everything else is allowed: keys are the relay's business.
 */
export class RelayWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: RelayWebAclProps = {}) {
    super(scope, id);
    const prefix = props.metricPrefix ?? 'llm-relay';
    const visibility = (name: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${prefix}-${name}`,
      sampledRequestsEnabled: true,
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'llm-relay: IP reputation list and a per-IP rate limit',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('web-acl'),
      customResponseBodies: {
        'rate-limited': { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY },
      },
      rules: [
        {
          name: 'AmazonIpReputation',
          priority: 0,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesAmazonIpReputationList',
            },
          },
          visibilityConfig: visibility('ip-reputation'),
        },
        {
          name: 'RatePerIp',
          priority: 1,
          action: {
            block: {
              customResponse: { responseCode: 429, customResponseBodyKey: 'rate-limited' },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: props.rateLimit ?? 2000,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          visibilityConfig: visibility('rate-per-ip'),
        },
      ],
    });
  }
}
