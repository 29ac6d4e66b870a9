import {
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
} from '@aws-sdk/client-route-53';
import type { Change, ResourceRecordSet, Route53Client } from '@aws-sdk/client-route-53';
import { CliError, EXIT } from './cli.ts';
import type { Progress } from './progress.ts';
import { normalizeName } from './record-sets.ts';
import type { RecordSet } from './record-sets.ts';

export interface HostedZone {
  id: string;
  name: string;
}

/** The public hosted zone for a domain, given its ID or found by name. */
export async function findHostedZone(
  client: Route53Client,
  domain: string,
  id?: string,
): Promise<HostedZone> {
  if (id) return { id: id.replace(/^\/hostedzone\//, ''), name: normalizeName(domain) };
  const wanted = normalizeName(domain);
  const { HostedZones = [] } = await client.send(
    new ListHostedZonesByNameCommand({ DNSName: wanted, MaxItems: 10 }),
  );
  const matches = HostedZones.filter(
    (z) => normalizeName(z.Name ?? '') === wanted && !z.Config?.PrivateZone,
  );
  if (matches.length === 0) {
    throw new CliError(
      `no public hosted zone for ${wanted} in this account (create it first: the DNS stack or \`aws route53 create-hosted-zone\`)`,
      EXIT.notFound,
    );
  }
  if (matches.length > 1) {
    throw new CliError(
      `${matches.length} public hosted zones are named ${wanted} (${matches.map((z) => z.Id).join(', ')}); pass --hosted-zone-id`,
      EXIT.usage,
    );
  }
  return { id: matches[0]!.Id!.replace(/^\/hostedzone\//, ''), name: wanted };
}

export async function delegationNameServers(
  client: Route53Client,
  zone: HostedZone,
): Promise<string[]> {
  const response = await client.send(new GetHostedZoneCommand({ Id: zone.id }));
  return (response.DelegationSet?.NameServers ?? []).map(normalizeName);
}

const MAX_PAGES = 10_000;

/** Every record set in the zone, following IsTruncated/NextRecordName pages. */
export async function listRecordSets(
  client: Route53Client,
  zone: HostedZone,
): Promise<ResourceRecordSet[]> {
  const all: ResourceRecordSet[] = [];
  let next: {
    StartRecordName?: string;
    StartRecordType?: ResourceRecordSet['Type'];
    StartRecordIdentifier?: string;
  } = {};
  for (let page = 0; page < MAX_PAGES; page++) {
    const response = await client.send(
      new ListResourceRecordSetsCommand({ HostedZoneId: zone.id, ...next }),
    );
    all.push(...(response.ResourceRecordSets ?? []));
    if (!response.IsTruncated) return all;
    next = {
      StartRecordName: response.NextRecordName,
      StartRecordType: response.NextRecordType,
      StartRecordIdentifier: response.NextRecordIdentifier,
    };
  }
  throw new CliError(`hosted zone ${zone.name} has more than ${MAX_PAGES} pages of records`);
}

export function upsert(set: RecordSet, action: 'CREATE' | 'UPSERT'): Change {
  return {
    Action: action,
    ResourceRecordSet: {
      Name: set.name,
      Type: set.type as ResourceRecordSet['Type'],
      TTL: set.ttl,
      ResourceRecords: set.values.map((Value) => ({ Value })),
    },
  };
}

/** Route 53 takes at most 1,000 records and 32,000 characters of values per change batch. */
const MAX_BATCH_CHARS = 30_000;

export function batches(changes: Change[], size: number): Change[][] {
  const result: Change[][] = [];
  let current: Change[] = [];
  let chars = 0;
  for (const change of changes) {
    const weight = (change.ResourceRecordSet?.ResourceRecords ?? []).reduce(
      (n, r) => n + (r.Value?.length ?? 0),
      0,
    );
    if (current.length && (current.length >= size || chars + weight > MAX_BATCH_CHARS)) {
      result.push(current);
      current = [];
      chars = 0;
    }
    current.push(change);
    chars += weight;
  }
  if (current.length) result.push(current);
  return result;
}

export async function applyChanges(
  client: Route53Client,
  zone: HostedZone,
  changes: Change[],
  batchSize: number,
  progress: Progress,
): Promise<string[]> {
  const ids: string[] = [];
  for (const batch of batches(changes, batchSize)) {
    const response = await client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.id,
        ChangeBatch: { Comment: 'llm-relay dns import', Changes: batch },
      }),
    );
    ids.push(response.ChangeInfo?.Id ?? '?');
    progress.increment(batch.length);
  }
  return ids;
}
