import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toRecordSets } from '../../scripts/lib/record-sets.ts';
import { parseZoneFile } from '../../scripts/lib/zone-file.ts';

const exported = readFileSync(
  join(import.meta.dirname, '../fixtures/zones/example.com.zone'),
  'utf8',
);

describe('reading a registrar’s BIND export', () => {
  const records = parseZoneFile(exported, { origin: 'example.com' });
  const { sets, skipped, warnings } = toRecordSets(records, 'example.com');
  const set = (name: string, type: string) => sets.find((s) => s.name === name && s.type === type);

  it('skips the apex SOA and NS, which Route 53 provides itself', () => {
    expect(skipped.map((s) => `${s.name} ${s.type}`)).toEqual([
      'example.com. SOA',
      'example.com. NS',
      'example.com. NS',
    ]);
    expect(warnings).toEqual([]);
  });

  it('yields exactly the record sets of the file, each with its TTL and values', () => {
    expect(sets.map((s) => [s.name, s.type, s.ttl, s.values])).toEqual([
      ['example.com.', 'A', 600, ['203.0.113.10']],
      ['api.example.com.', 'A', 600, ['198.51.100.7']],
      ['www.example.com.', 'A', 600, ['203.0.113.10']],
      ['www.example.com.', 'AAAA', 600, ['2001:db8::10']],
      ['mail.example.com.', 'A', 3600, ['203.0.113.25']],
      ['*.dev.example.com.', 'A', 300, ['203.0.113.30']],
      ['blog.example.com.', 'CNAME', 3600, ['example.github.io.']],
      ['shop.eu.example.com.', 'CNAME', 3600, ['shops.myshopify.com.']],
      ['ftp.example.com.', 'CNAME', 600, ['www.example.com.']],
      [
        'example.com.',
        'MX',
        3600,
        ['10 mx1.mailhost.example.net.', '20 mx2.mailhost.example.net.', '30 mail.example.com.'],
      ],
      [
        'example.com.',
        'TXT',
        3600,
        [
          '"v=spf1 include:_spf.mailhost.example.net ip4:203.0.113.25 ~all"',
          '"google-site-verification=Zx9-4bF0c2_aQ"',
        ],
      ],
      [
        '_dmarc.example.com.',
        'TXT',
        3600,
        ['"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"'],
      ],
      [
        'selector1._domainkey.example.com.',
        'TXT',
        3600,
        [
          '"v=DKIM1; k=rsa; " "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtKq3mD5e7Yb1" ' +
            '"Xy2fWc8R0oQe4ZxJ7Lh9C0aH3vGfT2nM5sPq8uV1wY6dR4jK0lN3bE7cF9gA2hS5xU8zV1yW4"',
        ],
      ],
      ['note.example.com.', 'TXT', 3600, ['"say \\"hi\\"; this is not a comment"']],
      ['_sip._tls.example.com.', 'SRV', 3600, ['100 1 443 sipdir.online.example.net.']],
      ['example.com.', 'CAA', 3600, ['0 issue "letsencrypt.org"']],
      ['lab.example.com.', 'NS', 3600, ['ns1.labhost.example.net.', 'ns2.labhost.example.net.']],
      ['static.eu.example.com.', 'A', 600, ['203.0.113.40']],
      ['cdn.eu.example.com.', 'CNAME', 600, ['static.eu.example.com.']],
    ]);
  });

  it('gives a blank owner the previous record’s name, whatever its type', () => {
    expect(set('www.example.com.', 'AAAA')).toBeDefined();
    expect(set('example.com.', 'AAAA')).toBeUndefined();
  });

  it('applies each $ORIGIN to the names that follow it, in owners and in targets', () => {
    expect(set('cdn.eu.example.com.', 'CNAME')?.values).toEqual(['static.eu.example.com.']);
  });

  it('splits a TXT string longer than 255 characters into several strings', () => {
    const long = 'k'.repeat(300);
    const [txt] = toRecordSets(
      parseZoneFile(`$TTL 60\nlong IN TXT "${long}"\n`, { origin: 'example.com' }),
      'example.com',
    ).sets;
    expect(txt!.values).toEqual([`"${'k'.repeat(255)}" "${'k'.repeat(45)}"`]);
  });

  it('refuses what it cannot import faithfully, naming the line', () => {
    expect(() =>
      parseZoneFile('$TTL 60\n$INCLUDE other.zone\n', { origin: 'example.com' }),
    ).toThrow(/line 2: \$INCLUDE is not supported/);
    expect(() => parseZoneFile('www IN A 192.0.2.1\n', { origin: 'example.com' })).toThrow(
      /line 1: no TTL/,
    );
    expect(() => parseZoneFile('$TTL 60\nx IN TXT "open\n', { origin: 'example.com' })).toThrow(
      /unterminated/,
    );
    expect(() => parseZoneFile('$TTL 60\nx IN MX ( 10 a.\n', { origin: 'example.com' })).toThrow(
      /unclosed/,
    );
  });

  it('reports types Route 53 lacks instead of dropping them silently', () => {
    const parsed = parseZoneFile('$TTL 60\nhost IN HINFO "PC" "Linux"\n', {
      origin: 'example.com',
    });
    expect(toRecordSets(parsed, 'example.com').skipped).toEqual([
      {
        name: 'host.example.com.',
        type: 'HINFO',
        line: 2,
        reason: 'Route 53 has no HINFO records',
      },
    ]);
  });
});
