import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';

/** A CIDR as 16-bit groups (2 for IPv4, 8 for IPv6) and a prefix length. */
interface Rule {
  readonly g: readonly number[];
  readonly p: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function ipv6Groups(address: string): number[] | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((h) => /^[0-9a-f]{1,4}$/i.test(h))) return undefined;
  return all.map((h) => parseInt(h, 16));
}

/** Parses "203.0.113.0/24" or "2001:db8::/32"; throws with the CIDR named when it is not one. */
export function parseCidr(cidr: string): Rule {
  const v4 = IPV4.exec(cidr);
  if (v4) {
    const octets = v4.slice(1, 5).map(Number);
    const p = Number(v4[5]);
    if (octets.every((o) => o <= 255) && p <= 32) {
      return { g: [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!], p };
    }
  }
  const [address, prefix] = cidr.split('/');
  const g = address && prefix && /^\d{1,3}$/.test(prefix) ? ipv6Groups(address) : undefined;
  if (g && Number(prefix) <= 128) return { g, p: Number(prefix) };
  throw new Error(`"${cidr}" is not an IPv4 or IPv6 CIDR such as 203.0.113.0/24 or 2001:db8::/32`);
}

/**
 * The viewer-request function: the viewer's address (IPv4 or IPv6) against the allowed CIDRs,
 * 403 for anyone else. Plain ES5, which every CloudFront Functions runtime runs.
 */
export function adminCidrsCode(cidrs: readonly string[]): string {
  const rules = cidrs.map(parseCidr);
  return `var RULES = ${JSON.stringify(rules)};
function groups(ip) {
  if (ip.indexOf(':') < 0) {
    var o = ip.split('.');
    if (o.length !== 4) return null;
    return [(parseInt(o[0], 10) << 8) | parseInt(o[1], 10), (parseInt(o[2], 10) << 8) | parseInt(o[3], 10)];
  }
  var halves = ip.split('::');
  if (halves.length > 2) return null;
  var head = halves[0] ? halves[0].split(':') : [];
  var tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  var missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  var all = head.slice();
  for (var m = 0; halves.length === 2 && m < missing; m++) all.push('0');
  all = all.concat(tail);
  var out = [];
  for (var i = 0; i < all.length; i++) {
    var n = parseInt(all[i], 16);
    if (isNaN(n)) return null;
    out.push(n);
  }
  return out;
}
function allowed(g, rule) {
  if (g.length !== rule.g.length) return false;
  var bits = rule.p;
  for (var i = 0; bits > 0; i++) {
    var take = bits >= 16 ? 16 : bits;
    var mask = (0xffff << (16 - take)) & 0xffff;
    if ((g[i] & mask) !== (rule.g[i] & mask)) return false;
    bits -= take;
  }
  return true;
}
function handler(event) {
  var g = groups(event.viewer.ip);
  if (g) for (var i = 0; i < RULES.length; i++) if (allowed(g, RULES[i])) return event.request;
  return { statusCode: 403, statusDescription: 'Forbidden' };
}
`;
}

export interface AdminAccessProps {
  /** Source addresses allowed to reach /admin, e.g. an office's or a VPN's ranges. */
  readonly cidrs: readonly string[];
}

/** A CloudFront Function that lets only the given source CIDRs reach the admin console and API. */
export class AdminAccess extends Construct {
  readonly function: cloudfront.Function;

  constructor(scope: Construct, id: string, props: AdminAccessProps) {
    super(scope, id);
    this.function = new cloudfront.Function(this, 'Function', {
      comment: 'llm-relay: /admin only from adminCidrs',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(adminCidrsCode(props.cidrs)),
    });
  }
}
