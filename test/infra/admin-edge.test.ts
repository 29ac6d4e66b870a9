import { describe, expect, it } from 'vitest';
import { adminCidrsCode, parseCidr } from '../../lib/constructs/admin-access.ts';
import { onlyResource, synth } from './helpers.ts';

const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

interface Behavior {
  PathPattern: string;
  CachePolicyId: string;
  OriginRequestPolicyId: string;
  AllowedMethods: string[];
  ResponseHeadersPolicyId?: unknown;
  FunctionAssociations?: { EventType: string; FunctionARN: unknown }[];
}

const behaviors = (context: Record<string, unknown> = {}) => {
  const s = synth({ context });
  const config = onlyResource(s.relay, 'AWS::CloudFront::Distribution').resource.Properties!
    .DistributionConfig as { CacheBehaviors: Behavior[] };
  return { s, admin: config.CacheBehaviors.filter((b) => b.PathPattern.startsWith('/admin')) };
};

/** Runs the generated CloudFront Function as CloudFront would: handler(event). */
function viewer(cidrs: string[]) {
  const handler = new Function(`${adminCidrsCode(cidrs)}\nreturn handler;`)() as (
    event: unknown,
  ) => unknown;
  return (ip: string) => {
    const request = { method: 'GET', uri: '/admin', headers: {} };
    const out = handler({ version: '1.0', viewer: { ip }, request }) as { statusCode?: number };
    return out === request ? 'pass' : out.statusCode;
  };
}

describe('CloudFront in front of the admin console', () => {
  it('sends /admin and /admin/* to the relay uncached, with cookies and Authorization, no CORS policy', () => {
    const { admin } = behaviors();
    expect(admin.map((b) => b.PathPattern)).toEqual(['/admin', '/admin/*']);
    for (const b of admin) {
      expect(b).toMatchObject({
        CachePolicyId: CACHING_DISABLED,
        // All viewer headers (Authorization, Cookie, x-csrf-token), cookies and query strings.
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      });
      expect(b.AllowedMethods).toEqual(expect.arrayContaining(['PATCH', 'DELETE', 'POST']));
      expect(b.ResponseHeadersPolicyId).toBeUndefined();
      expect(b.FunctionAssociations).toBeUndefined();
    }
  });

  it('with adminCidrs, runs one viewer-request function on both admin paths', () => {
    const { s, admin } = behaviors({ adminCidrs: '203.0.113.0/24, 2001:db8::/32' });
    const fn = onlyResource(s.relay, 'AWS::CloudFront::Function');
    expect(fn.resource.Properties!.FunctionConfig).toMatchObject({ Runtime: 'cloudfront-js-2.0' });
    expect(fn.resource.Properties!.FunctionCode).toContain('"p":24');
    for (const b of admin) {
      expect(b.FunctionAssociations).toEqual([
        {
          EventType: 'viewer-request',
          FunctionARN: { 'Fn::GetAtt': [fn.logicalId, 'FunctionARN'] },
        },
      ]);
    }
  });

  it('the function admits exactly the listed IPv4 and IPv6 ranges', () => {
    const check = viewer(['203.0.113.0/24', '198.51.100.7/32', '2001:db8::/32', '::1/128']);
    expect(check('203.0.113.9')).toBe('pass');
    expect(check('203.0.114.9')).toBe(403);
    expect(check('198.51.100.7')).toBe('pass');
    expect(check('198.51.100.8')).toBe(403);
    expect(check('2001:db8:1234::5')).toBe('pass');
    expect(check('2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('pass');
    expect(check('2001:db9::1')).toBe(403);
    expect(check('::1')).toBe('pass');
    expect(check('::2')).toBe(403);
    expect(check('garbage')).toBe(403);
    expect(viewer(['0.0.0.0/0'])('8.8.8.8')).toBe('pass');
    expect(viewer(['0.0.0.0/0'])('2001:db8::1')).toBe(403);
  });

  it('refuses a malformed CIDR at synth, naming the key', () => {
    expect(() => parseCidr('203.0.113.0/33')).toThrow(/not an IPv4 or IPv6 CIDR/);
    expect(() => parseCidr('2001:db8:::/32')).toThrow(/not an IPv4 or IPv6 CIDR/);
    expect(() => synth({ context: { adminCidrs: '10.0.0.0' } })).toThrow(/adminCidrs\.0/);
  });

  it('refuses an admin key written into relayConfig: it would end up in the template', () => {
    expect(() =>
      synth({
        context: {
          relayConfig: { admin: { keys: [{ name: 'ops', key: 'admin-0123456789abcdef' }] } },
        },
      }),
    ).toThrow(/"relayConfig\.admin\.keys\.0\.key": must be "env:NAME"/);
    expect(() =>
      synth({
        context: { relayConfig: { admin: { keys: [{ name: 'ops', key: 'env:OPS_ADMIN_KEY' }] } } },
      }),
    ).not.toThrow();
  });
});
