/**
 * A fetch for URLs a client names and the relay downloads from inside the account (today Bedrock's URL
 * images). What counts is the address actually connected to, on every hop: the name is
 * resolved through a lookup that refuses forbidden addresses, so a DNS name that resolves to
 * the instance metadata service, or a redirect to one, is refused like the literal address.
 * (openImageDownload follows redirects itself, each hop through this fetch.)
 *
 * - link-local (169.254.0.0/16 with the metadata service, fe80::/10) and fd00:ec2::254 are
 *   never fetched, and neither are unspecified or multicast addresses;
 * - loopback, RFC 1918, shared (100.64.0.0/10) and unique-local IPv6 addresses reach the
 *   relay's own host and VPC: refused unless `images.allowPrivateImageUrls` is set (a relay
 *   whose images live on the private network; tests on 127.0.0.1).
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';

function list(ranges: readonly [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const blocks = new BlockList();
  for (const [net, prefix, type] of ranges) blocks.addSubnet(net, prefix, type);
  return blocks;
}

const NEVER = list([
  ['0.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['fd00:ec2::254', 128, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
]);

const PRIVATE = list([
  ['127.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
]);

/** Why the relay will not connect to this address, or undefined when it may. */
export function forbiddenAddress(address: string, allowPrivate: boolean): string | undefined {
  // An IPv4 address written as IPv6 (::ffff:169.254.169.254) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1]! : address;
  const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (NEVER.check(ip, type)) return 'a link-local or reserved address';
  if (!allowPrivate && PRIVATE.check(ip, type)) return 'a loopback or private address';
  return undefined;
}

export class ForbiddenAddressError extends Error {
  readonly code = 'EFORBIDDENADDRESS';
  constructor(reason: string) {
    super(`an image URL points at ${reason}`);
    this.name = 'ForbiddenAddressError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const reason = forbiddenAddress(address, allowPrivate);
        if (reason) return callback(new ForbiddenAddressError(reason), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

const agents = new Map<boolean, Agent>();

/** A fetch that connects only to addresses a client's URL may reach. */
export function guardedFetch(allowPrivate: boolean): typeof fetch {
  let agent = agents.get(allowPrivate);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(allowPrivate) } });
    agents.set(allowPrivate, agent);
  }
  const dispatcher = agent;
  return (async (input: string | URL, init?: RequestInit) => {
    // A literal address is connected to without a lookup: checked here instead.
    const host = new URL(String(input)).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const reason = forbiddenAddress(host, allowPrivate);
      if (reason) throw new ForbiddenAddressError(reason);
    }
    return undiciFetch(String(input), {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    });
  }) as unknown as typeof fetch;
}
