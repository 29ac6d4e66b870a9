import { Resolver } from 'node:dns/promises';
import { normalizeName } from './record-sets.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

/** A resolver that asks the given servers ("1.1.1.1", "127.0.0.1:5353"), or the system's. */
export function makeResolver(servers: string[] | undefined): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  if (servers?.length) resolver.setServers(servers);
  return resolver;
}

async function attempt<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: (error as { code?: string }).code ?? String(error) };
  }
}

/** Does the world see the hosted zone's name servers for the domain? */
export async function checkDelegation(
  resolver: Resolver,
  domain: string,
  expected: string[],
): Promise<CheckResult> {
  const name = 'delegation';
  const { value, error } = await attempt(() => resolver.resolveNs(domain.replace(/\.$/, '')));
  if (!value) return { name, ok: false, detail: `NS lookup for ${domain} failed (${error})` };
  const seen = value.map(normalizeName).sort();
  const want = [...expected].sort();
  if (sameSet(seen, want))
    return { name, ok: true, detail: `${domain} is served by ${want.join(', ')}` };
  return {
    name,
    ok: false,
    detail:
      `${domain} NS are ${seen.join(', ')}; the hosted zone's are ${want.join(', ')}. ` +
      'Set the hosted zone’s name servers at the registrar (NS changes can take up to 48 h to spread).',
  };
}

/**
 * Does the API name reach CloudFront? CloudFront edge addresses reverse-resolve to
 * *.cloudfront.net; failing that, they are the addresses the distribution's own name has.
 */
export async function checkCloudFront(
  resolver: Resolver,
  apiName: string,
  distributionDomain: string | undefined,
): Promise<CheckResult[]> {
  const host = apiName.replace(/\.$/, '');
  const resolves = await attempt(() => resolver.resolve4(host));
  if (!resolves.value?.length) {
    return [
      {
        name: 'resolves',
        ok: false,
        detail: `${host} has no A record (${resolves.error ?? 'empty'})`,
      },
    ];
  }
  const addresses = resolves.value;
  const results: CheckResult[] = [
    { name: 'resolves', ok: true, detail: `${host} → ${addresses.join(', ')}` },
  ];
  const ptrs = await Promise.all(addresses.map((ip) => attempt(() => resolver.reverse(ip))));
  const viaPtr = ptrs.every((p) => p.value?.some((n) => /\.cloudfront\.net\.?$/i.test(n)));
  if (viaPtr) {
    results.push({
      name: 'cloudfront',
      ok: true,
      detail: `${host} answers from CloudFront edges (reverse DNS)`,
    });
    return results;
  }
  if (distributionDomain) {
    const target = await attempt(() => resolver.resolve4(distributionDomain.replace(/\.$/, '')));
    if (target.value?.some((ip) => addresses.includes(ip))) {
      results.push({
        name: 'cloudfront',
        ok: true,
        detail: `${host} resolves like ${distributionDomain}`,
      });
      return results;
    }
  }
  results.push({
    name: 'cloudfront',
    ok: false,
    detail: `${addresses.join(', ')} do not look like CloudFront${distributionDomain ? ` (${distributionDomain})` : ''}`,
  });
  return results;
}
