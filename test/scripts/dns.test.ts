import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDns } from '../../scripts/dns.ts';
import { startFakeRoute53 } from '../fixtures/aws/route53.ts';
import type { FakeRoute53 } from '../fixtures/aws/route53.ts';
import { startFakeDns } from '../fixtures/dns-server.ts';
import type { FakeDnsServer } from '../fixtures/dns-server.ts';
import { captureIo } from '../fixtures/io.ts';

const ZONE_FILE = join(import.meta.dirname, '../fixtures/zones/example.com.zone');
const ROUTE53_NS = [
  'ns-1.awsdns-01.org.',
  'ns-2.awsdns-02.co.uk.',
  'ns-3.awsdns-03.com.',
  'ns-4.awsdns-04.net.',
];
const CLOUDFRONT = 'd111abcdef8.cloudfront.net.';

let route53: FakeRoute53;
beforeEach(async () => {
  route53 = await startFakeRoute53(
    [
      {
        id: 'Z0OTHER',
        name: 'example.org.',
        nameServers: [],
        records: [],
      },
      {
        id: 'Z123EXAMPLE',
        name: 'example.com.',
        nameServers: ROUTE53_NS,
        records: [
          {
            Name: 'example.com.',
            Type: 'SOA',
            TTL: 900,
            Values: ['ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400'],
          },
          { Name: 'example.com.', Type: 'NS', TTL: 172800, Values: ROUTE53_NS },
          // The CDK stack's CloudFront alias for the API: the old A record must not replace it.
          {
            Name: 'api.example.com.',
            Type: 'A',
            AliasTarget: { DNSName: CLOUDFRONT, HostedZoneId: 'Z2FDTNDATAQYW2' },
          },
          { Name: 'mail.example.com.', Type: 'A', TTL: 3600, Values: ['203.0.113.99'] },
          { Name: 'blog.example.com.', Type: 'CNAME', TTL: 3600, Values: ['EXAMPLE.github.io.'] },
          { Name: 'old.example.com.', Type: 'A', TTL: 300, Values: ['192.0.2.1'] },
        ],
      },
    ],
    { pageSize: 3 },
  );
});
afterEach(() => route53.close());

const zone = () => route53.zones[1]!;
const find = (name: string, type: string) =>
  zone().records.find((r) => r.Name === name && r.Type === type);
const changeCalls = () => route53.requests.filter((r) => r.method === 'POST');

async function dns(args: string[]) {
  const io = captureIo(route53.endpoint);
  const code = await runDns(args, io);
  return { code, io };
}

describe('dns diff', () => {
  it('lists what import would create and update, what it keeps, and exits 5 without writing', async () => {
    const { code, io } = await dns(['diff', ZONE_FILE, '--domain', 'example.com']);
    expect(code).toBe(5);
    expect(changeCalls()).toHaveLength(0);
    const out = io.out.join('\n');
    expect(out).toContain('hosted zone example.com. (Z123EXAMPLE)');
    expect(out).toContain('+ www.example.com. A 600  203.0.113.10');
    expect(out).toContain('+ *.dev.example.com. A 300  203.0.113.30');
    expect(out).toMatch(
      /~ mail\.example\.com\. A 3600 {2}203\.0\.113\.25\n {4}was 3600 {2}203\.0\.113\.99/,
    );
    expect(out).toContain(
      "! api.example.com. A: kept the Route 53 alias; the zone file's 198.51.100.7 is not imported",
    );
    expect(out).toContain(
      'only in the hosted zone (left alone): old.example.com. A 300  192.0.2.1',
    );
    expect(out).toContain('16 to create, 1 to update, 1 unchanged, 1 alias kept, 3 skipped');
    // Every page of the hosted zone was read.
    const lists = route53.requests.filter((r) => r.url.includes('/rrset'));
    expect(lists).toHaveLength(2);
    expect(lists[1]!.url).toContain('name=');
  });
});

describe('dns import', () => {
  it('with --dry-run shows the diff and writes nothing', async () => {
    const { code, io } = await dns(['import', ZONE_FILE, '--domain', 'example.com', '--dry-run']);
    expect(code).toBe(0);
    expect(changeCalls()).toHaveLength(0);
    expect(io.out).toContain('dry run: 17 change(s) not applied');
  });

  it('writes every record in batches, leaves the alias alone, and a second run changes nothing', async () => {
    const first = await dns(['import', ZONE_FILE, '--domain', 'example.com', '--batch-size', '5']);
    expect(first.io.err).toEqual([]);
    expect(first.code).toBe(0);
    expect(route53.changeBatches.map((b) => b.length)).toEqual([5, 5, 5, 2]);
    expect(first.io.out.at(-1)).toBe(
      'applied 17 change(s) in 4 batch(es): /change/C1, /change/C2, /change/C3, /change/C4',
    );
    expect(first.io.progress()).toContain('route53 [');

    const creates = route53.changeBatches.flat();
    expect(creates.filter((c) => c.action === 'UPSERT').map((c) => c.name)).toEqual([
      'mail.example.com.',
    ]);
    expect(find('mail.example.com.', 'A')).toMatchObject({ TTL: 3600, Values: ['203.0.113.25'] });
    expect(find('example.com.', 'MX')?.Values).toEqual([
      '10 mx1.mailhost.example.net.',
      '20 mx2.mailhost.example.net.',
      '30 mail.example.com.',
    ]);
    expect(find('note.example.com.', 'TXT')?.Values).toEqual([
      '"say \\"hi\\"; this is not a comment"',
    ]);
    expect(find('*.dev.example.com.', 'A')?.TTL).toBe(300);
    expect(find('lab.example.com.', 'NS')?.Values).toHaveLength(2);
    expect(find('api.example.com.', 'A')?.AliasTarget?.DNSName).toBe(CLOUDFRONT);
    expect(find('old.example.com.', 'A')).toBeDefined();
    expect(
      zone().records.filter((r) => r.Type === 'NS' && r.Name === 'example.com.')[0]?.Values,
    ).toEqual(ROUTE53_NS);

    const second = await dns(['import', ZONE_FILE, '--domain', 'example.com']);
    expect(second.code).toBe(0);
    expect(second.io.out).toContain('nothing to change');
    expect(route53.changeBatches).toHaveLength(4);
    expect((await dns(['diff', ZONE_FILE, '--domain', 'example.com'])).code).toBe(0);
  });

  it('names a hosted zone that does not exist and exits 4', async () => {
    const { code, io } = await dns(['import', ZONE_FILE, '--domain', 'example.net']);
    expect(code).toBe(4);
    expect(io.err[0]).toContain('no public hosted zone for example.net.');
    const byId = await dns([
      'diff',
      ZONE_FILE,
      '--domain',
      'example.com',
      '--hosted-zone-id',
      'ZNOPE',
    ]);
    expect(byId.code).toBe(4);
    expect(byId.io.err[0]).toContain('hosted zone ZNOPE does not exist');
  });

  it('stops at a zone file line it cannot read, before touching Route 53 writes', async () => {
    const { code, io } = await dns([
      'import',
      join(import.meta.dirname, '../fixtures/zones/broken.zone'),
      '--domain',
      'example.com',
    ]);
    expect(code).toBe(2);
    expect(io.err[0]).toMatch(/zone file line 4: /);
    expect(changeCalls()).toHaveLength(0);
  });
});

describe('dns check', () => {
  let resolver: FakeDnsServer;
  afterEach(() => resolver?.close());

  it('passes when the domain is delegated to the hosted zone and the API name answers from CloudFront', async () => {
    resolver = await startFakeDns({
      'example.com NS': ROUTE53_NS,
      'api.example.com A': ['192.0.2.10', '192.0.2.11'],
      '10.2.0.192.in-addr.arpa PTR': ['server-192-0-2-10.fra56.r.cloudfront.net.'],
      '11.2.0.192.in-addr.arpa PTR': ['server-192-0-2-11.fra56.r.cloudfront.net.'],
    });
    const { code, io } = await dns([
      'check',
      '--domain',
      'example.com',
      '--resolver',
      resolver.address,
    ]);
    expect(io.out).toEqual([
      `PASS  delegation  example.com. is served by ${[...ROUTE53_NS].sort().join(', ')}`,
      `PASS  alias       api.example.com. A is an alias to ${CLOUDFRONT}`,
      'PASS  resolves    api.example.com → 192.0.2.10, 192.0.2.11',
      'PASS  cloudfront  api.example.com answers from CloudFront edges (reverse DNS)',
    ]);
    expect(code).toBe(0);
    expect(resolver.queries.map((q) => `${q.name} ${q.type}`)).toContain('example.com NS');
  });

  it('fails, with the fix, while the registrar still points at the old name servers', async () => {
    resolver = await startFakeDns({
      'example.com NS': ['ns1.old-registrar.net.', 'ns2.old-registrar.net.'],
      'api.example.com A': ['198.51.100.7'],
      [`${CLOUDFRONT.slice(0, -1)} A`]: ['192.0.2.10'],
    });
    const { code, io } = await dns([
      'check',
      '--domain',
      'example.com',
      '--resolver',
      resolver.address,
    ]);
    expect(code).toBe(5);
    expect(io.out[0]).toMatch(
      /^FAIL {2}delegation {2}example\.com\. NS are ns1\.old-registrar\.net\., ns2\.old-registrar\.net\.;/,
    );
    expect(io.out[0]).toContain('Set the hosted zone’s name servers at the registrar');
    expect(io.out[3]).toBe(
      `FAIL  cloudfront  198.51.100.7 do not look like CloudFront (${CLOUDFRONT})`,
    );
  });
});
