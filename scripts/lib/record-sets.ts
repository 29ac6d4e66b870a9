import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { ZoneRecord } from './zone-file.ts';

export interface RecordSet {
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

export interface Skipped {
  name: string;
  type: string;
  line?: number;
  reason: string;
}

/** Record types Route 53 accepts in ChangeResourceRecordSets. */
const ROUTE53_TYPES = new Set([
  'A',
  'AAAA',
  'CAA',
  'CNAME',
  'DS',
  'HTTPS',
  'MX',
  'NAPTR',
  'NS',
  'PTR',
  'SOA',
  'SPF',
  'SRV',
  'SSHFP',
  'SVCB',
  'TLSA',
  'TXT',
]);

const MAX_STRING = 255;

/** A TXT/SPF value as Route 53 wants it: every character-string quoted, none over 255 bytes. */
function characterStrings(rdata: string[]): string {
  const chunks: string[] = [];
  for (const text of rdata) {
    // Split at 255 characters without cutting a backslash escape in two.
    let rest = text;
    while (rest.length > MAX_STRING) {
      let cut = MAX_STRING;
      const tail = rest.slice(cut - 3, cut + 1);
      const escapeAt = tail.lastIndexOf('\\');
      if (escapeAt !== -1) cut = cut - 3 + escapeAt;
      chunks.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    chunks.push(rest);
  }
  return chunks.map((chunk) => `"${chunk.replace(/(?<!\\)"/g, '\\"')}"`).join(' ');
}

export function renderValue(type: string, rdata: string[]): string {
  if (type === 'TXT' || type === 'SPF') return characterStrings(rdata);
  if (type === 'CAA' && rdata.length === 3) {
    return `${rdata[0]} ${rdata[1]!.toLowerCase()} "${rdata[2]!.replace(/^"|"$/g, '')}"`;
  }
  return rdata.join(' ');
}

/** Route 53 writes "*" and other specials as \ooo octal escapes in names it returns. */
export function normalizeName(name: string): string {
  const decoded = name.replace(/\\(\d{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
  const lower = decoded.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** A value in a form that compares equal however either side spelled it. */
function canonicalValue(type: string, value: string): string {
  if (type === 'TXT' || type === 'SPF') {
    const strings = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    return strings.join('');
  }
  const squashed = value.trim().replace(/\s+/g, ' ');
  return ['CNAME', 'NS', 'MX', 'PTR', 'SRV', 'DNAME'].includes(type)
    ? squashed.toLowerCase()
    : squashed;
}

export function sameValues(type: string, a: string[], b: string[]): boolean {
  const left = a.map((v) => canonicalValue(type, v)).sort();
  const right = b.map((v) => canonicalValue(type, v)).sort();
  return left.length === right.length && left.every((v, i) => v === right[i]);
}

/**
 * Groups parsed records into Route 53 record sets for the zone. The apex SOA and NS belong
 * to Route 53 (its own name servers), so they are left out, as are types Route 53 lacks
 * and names outside the zone, each with its reason.
 */
export function toRecordSets(records: ZoneRecord[], zoneName: string) {
  const zone = normalizeName(zoneName);
  const sets = new Map<string, RecordSet & { lines: number[] }>();
  const skipped: Skipped[] = [];
  const warnings: string[] = [];
  for (const record of records) {
    const base = { name: record.name, type: record.type, line: record.line };
    if (record.type === 'SOA') {
      skipped.push({ ...base, reason: 'SOA belongs to the hosted zone' });
      continue;
    }
    if (record.type === 'NS' && record.name === zone) {
      skipped.push({ ...base, reason: 'apex NS are the hosted zone’s own name servers' });
      continue;
    }
    if (!ROUTE53_TYPES.has(record.type)) {
      skipped.push({ ...base, reason: `Route 53 has no ${record.type} records` });
      continue;
    }
    if (record.name !== zone && !record.name.endsWith(`.${zone}`)) {
      skipped.push({ ...base, reason: `outside the zone ${zone}` });
      continue;
    }
    const key = `${record.name} ${record.type}`;
    const value = renderValue(record.type, record.rdata);
    const existing = sets.get(key);
    if (!existing) {
      sets.set(key, {
        name: record.name,
        type: record.type,
        ttl: record.ttl,
        values: [value],
        lines: [record.line],
      });
      continue;
    }
    if (record.ttl !== existing.ttl) {
      warnings.push(
        `${key}: TTLs ${existing.ttl} and ${record.ttl} differ (lines ${existing.lines[0]} and ${record.line}); ` +
          `a Route 53 record set has one TTL, using ${Math.min(existing.ttl, record.ttl)}`,
      );
      existing.ttl = Math.min(existing.ttl, record.ttl);
    }
    if (!existing.values.includes(value)) existing.values.push(value);
    existing.lines.push(record.line);
  }
  for (const set of sets.values()) {
    const shared = [...sets.values()].some(
      (other) => other.name === set.name && other.type !== 'CNAME',
    );
    if (set.type === 'CNAME' && shared) {
      warnings.push(`${set.name} has a CNAME and other records; Route 53 will refuse the CNAME`);
    }
  }
  return {
    sets: [...sets.values()].map(({ lines: _lines, ...set }) => set),
    skipped,
    warnings,
  };
}

export interface Plan {
  create: RecordSet[];
  update: { from: RecordSet; to: RecordSet }[];
  unchanged: RecordSet[];
  /** Record sets the zone file would overwrite but that Route 53 manages as aliases (e.g. the API's CloudFront alias). */
  aliasConflicts: RecordSet[];
  /** Record sets only in the hosted zone; import leaves them alone. */
  onlyInZone: RecordSet[];
}

function describeExisting(set: ResourceRecordSet): RecordSet {
  return {
    name: normalizeName(set.Name ?? ''),
    type: set.Type ?? '',
    ttl: set.TTL ?? 0,
    values: set.AliasTarget
      ? [`ALIAS ${set.AliasTarget.DNSName ?? ''}`]
      : (set.ResourceRecords ?? []).map((r) => r.Value ?? ''),
  };
}

export function planChanges(
  desired: RecordSet[],
  existing: ResourceRecordSet[],
  zoneName: string,
): Plan {
  const zone = normalizeName(zoneName);
  const current = new Map<string, ResourceRecordSet>();
  for (const set of existing) current.set(`${normalizeName(set.Name ?? '')} ${set.Type}`, set);
  const plan: Plan = { create: [], update: [], unchanged: [], aliasConflicts: [], onlyInZone: [] };
  const wanted = new Set<string>();
  for (const set of desired) {
    const key = `${set.name} ${set.type}`;
    wanted.add(key);
    const found = current.get(key);
    if (!found) plan.create.push(set);
    else if (found.AliasTarget || found.SetIdentifier) plan.aliasConflicts.push(set);
    else if (
      found.TTL === set.ttl &&
      sameValues(set.type, describeExisting(found).values, set.values)
    ) {
      plan.unchanged.push(set);
    } else plan.update.push({ from: describeExisting(found), to: set });
  }
  for (const [key, set] of current) {
    if (
      wanted.has(key) ||
      set.Type === 'SOA' ||
      (set.Type === 'NS' && normalizeName(set.Name ?? '') === zone)
    )
      continue;
    plan.onlyInZone.push(describeExisting(set));
  }
  return plan;
}
