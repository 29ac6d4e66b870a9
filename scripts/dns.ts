import { readFile } from 'node:fs/promises';
import { Route53Client } from '@aws-sdk/client-route-53';
import { awsClientConfig } from './lib/aws.ts';
import { CliError, defineScript, EXIT, positiveInt, processIo, required } from './lib/cli.ts';
import type { Io } from './lib/cli.ts';
import { checkCloudFront, checkDelegation, makeResolver } from './lib/dns-check.ts';
import type { CheckResult } from './lib/dns-check.ts';
import { startProgress } from './lib/progress.ts';
import { normalizeName, planChanges, toRecordSets } from './lib/record-sets.ts';
import type { Plan, RecordSet, Skipped } from './lib/record-sets.ts';
import {
  applyChanges,
  delegationNameServers,
  findHostedZone,
  listRecordSets,
  upsert,
} from './lib/route53.ts';
import type { HostedZone } from './lib/route53.ts';
import { parseZoneFile } from './lib/zone-file.ts';

const USAGE = `Move a domain's DNS into Route 53 and check it.

Usage:
  npm run dns -- diff   <zone-file> --domain example.com
  npm run dns -- import <zone-file> --domain example.com [--dry-run]
  npm run dns -- check  --domain example.com [--api-name api.example.com] [--resolver 1.1.1.1]

diff     compare a BIND zone file (exported at the old registrar) with the hosted zone;
         exits 5 when they differ
import   create or update the file's records in the hosted zone, after showing the diff;
         SOA and apex NS are skipped (Route 53 has its own), records only in the hosted
         zone and Route 53 aliases (the API's CloudFront alias) are left alone, so running
         it twice changes nothing the second time
check    the domain's NS (as a resolver sees them) are the hosted zone's name servers, and
         the API name resolves to CloudFront; exits 5 when a check fails

Options:
  --domain D            the zone (hostedZoneName in the CDK context), e.g. example.com
  --hosted-zone-id Z    use this hosted zone instead of looking it up by name
  --dry-run             import: show what would change and write nothing
  --batch-size N        import: changes per Route 53 change batch (default 100, max 1000)
  --default-ttl S       TTL for records without one when the file has no $TTL (default 3600)
  --api-name N          check: the API host name (default api.<domain>)
  --resolver IP[:PORT]  check: ask this DNS server (repeatable; default the system's)`;

const OPTIONS = {
  domain: { type: 'string' },
  'hosted-zone-id': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'batch-size': { type: 'string' },
  'default-ttl': { type: 'string' },
  'api-name': { type: 'string' },
  resolver: { type: 'string', multiple: true },
} as const;

export const runDns = defineScript({
  usage: USAGE,
  options: OPTIONS,
  async run({ values, positionals }, io) {
    const [command, file, ...extra] = positionals;
    if (!command || !['diff', 'import', 'check'].includes(command) || extra.length) {
      throw new CliError('give one command: diff, import or check (see --help)', EXIT.usage);
    }
    const domain = normalizeName(
      required(values.domain, '--domain (the hosted zone name, e.g. example.com)'),
    );
    const client = new Route53Client(awsClientConfig(io, values.region ?? 'us-east-1'));
    try {
      const zone = await findHostedZone(client, domain, values['hosted-zone-id']);
      if (command === 'check') {
        if (file) throw new CliError('check takes no zone file', EXIT.usage);
        const results = [
          await checkDelegation(
            makeResolver(values.resolver),
            domain,
            await delegationNameServers(client, zone),
          ),
          ...(await checkApi(client, zone, values['api-name'] ?? `api.${domain}`, values.resolver)),
        ];
        for (const r of results)
          io.stdout(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(10)}  ${r.detail}`);
        return results.every((r) => r.ok) ? EXIT.ok : EXIT.checkFailed;
      }

      const path = required(file, 'the zone file path');
      const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new CliError(
          `cannot read zone file ${path} (${error.code ?? error.message})`,
          EXIT.notFound,
        );
      });
      const records = parseZoneFile(text, {
        origin: domain,
        defaultTtl: positiveInt(values['default-ttl'], '--default-ttl', 3600),
      });
      const { sets, skipped, warnings } = toRecordSets(records, domain);
      const plan = planChanges(sets, await listRecordSets(client, zone), domain);
      printPlan(io, zone, plan, skipped, warnings);
      const changes = [
        ...plan.create.map((s) => upsert(s, 'CREATE')),
        ...plan.update.map((u) => upsert(u.to, 'UPSERT')),
      ];

      if (command === 'diff') return changes.length ? EXIT.checkFailed : EXIT.ok;
      if (changes.length === 0) {
        io.stdout('nothing to change');
        return EXIT.ok;
      }
      if (values['dry-run']) {
        io.stdout(`dry run: ${changes.length} change(s) not applied`);
        return EXIT.ok;
      }
      const batchSize = positiveInt(values['batch-size'], '--batch-size', 100);
      if (batchSize > 1000)
        throw new CliError('--batch-size is at most 1000 (a Route 53 limit)', EXIT.usage);
      const progress = startProgress(io, 'route53', changes.length);
      const ids = await applyChanges(client, zone, changes, batchSize, progress).finally(() =>
        progress.stop(),
      );
      io.stdout(
        `applied ${changes.length} change(s) in ${ids.length} batch(es): ${ids.join(', ')}`,
      );
      return EXIT.ok;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchHostedZone') {
        throw new CliError(
          `hosted zone ${values['hosted-zone-id'] ?? domain} does not exist`,
          EXIT.notFound,
        );
      }
      throw error;
    } finally {
      client.destroy();
    }
  },
});

async function checkApi(
  client: Route53Client,
  zone: HostedZone,
  apiName: string,
  resolvers: string[] | undefined,
): Promise<CheckResult[]> {
  const name = normalizeName(apiName);
  const sets = await listRecordSets(client, zone);
  const alias = sets.find(
    (s) => normalizeName(s.Name ?? '') === name && s.Type === 'A' && s.AliasTarget,
  );
  const target = alias?.AliasTarget?.DNSName;
  const aliasResult: CheckResult =
    target && /\.cloudfront\.net\.?$/i.test(target)
      ? { name: 'alias', ok: true, detail: `${name} A is an alias to ${target}` }
      : {
          name: 'alias',
          ok: false,
          detail: `${name} has no A alias to a CloudFront distribution in ${zone.name}`,
        };
  return [aliasResult, ...(await checkCloudFront(makeResolver(resolvers), name, target))];
}

const show = (set: RecordSet) => `${set.name} ${set.type} ${set.ttl}  ${set.values.join(' | ')}`;

function printPlan(io: Io, zone: HostedZone, plan: Plan, skipped: Skipped[], warnings: string[]) {
  io.stdout(`hosted zone ${zone.name} (${zone.id})`);
  for (const set of plan.create) io.stdout(`+ ${show(set)}`);
  for (const { from, to } of plan.update) {
    io.stdout(`~ ${show(to)}`);
    io.stdout(`    was ${from.ttl}  ${from.values.join(' | ')}`);
  }
  for (const set of plan.aliasConflicts) {
    io.stdout(
      `! ${set.name} ${set.type}: kept the Route 53 alias; the zone file's ${set.values.join(' | ')} is not imported`,
    );
  }
  for (const set of plan.onlyInZone)
    io.stdout(`  only in the hosted zone (left alone): ${show(set)}`);
  for (const s of skipped) io.stdout(`- skipped line ${s.line}: ${s.name} ${s.type} (${s.reason})`);
  for (const w of warnings) io.stderr(`warning: ${w}`);
  io.stdout(
    `${plan.create.length} to create, ${plan.update.length} to update, ${plan.unchanged.length} unchanged, ` +
      `${plan.aliasConflicts.length} alias kept, ${skipped.length} skipped`,
  );
}

if (import.meta.main) {
  process.exitCode = await runDns(process.argv.slice(2), processIo());
}
