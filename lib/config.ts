import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { relayConfigSchema as relaySchema } from '../app/src/config.ts';
import { parseCidr } from './constructs/admin-access.ts';
import { REPOSITORY_PATTERN } from './constructs/github-deploy-role.ts';

/**
 * Every deploy setting is CDK context (`cdk.json`, `cdk.context.json` or `-c key=value`).
 * Values given with `-c` arrive as strings, so numbers, lists and objects are also accepted
 * in their string (JSON) form.
 */

/** Retention values CloudWatch Logs accepts; anything else fails at deploy time, so fail at synth. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/**
 * The AWS-managed prefix list `com.amazonaws.global.cloudfront.origin-facing` has a different id
 * in every region. Known ids let `cdk synth` run offline; other regions need
 * `cloudfrontPrefixListId` or a lookup (which needs `account` and credentials once, then is cached
 * in cdk.context.json).
 */
export const KNOWN_CLOUDFRONT_PREFIX_LISTS: Readonly<Record<string, string>> = {
  'us-east-1': 'pl-3b927c52',
  'us-west-2': 'pl-82a045eb',
};

/** One example per key: every error message names the key and shows a value that would work. */
export const CONTEXT_EXAMPLES: Readonly<Record<string, string>> = {
  account: '-c account=123456789012',
  region: '-c region=us-east-1',
  stackPrefix: '-c stackPrefix=LlmRelay',
  apiDomain: '-c apiDomain=api.example.com',
  hostedZoneName: '-c hostedZoneName=example.com',
  hostedZoneId: '-c hostedZoneId=Z0123456789ABCDEFGHIJ (with hostedZoneName)',
  instanceType: '-c instanceType=t4g.small',
  instanceArch: '-c instanceArch=arm64',
  availabilityZone:
    '-c availabilityZone=us-east-1b (one that offers the instance type: aws ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values=t4g.small)',
  dataVolumeGiB: '-c dataVolumeGiB=40 (grow only)',
  dataVolumeSnapshotId: '-c dataVolumeSnapshotId=snap-0123456789abcdef0',
  backupRetentionDays: '-c backupRetentionDays=35',
  patchSchedule: '-c patchSchedule="cron(0 4 ? * SUN *)"',
  relayPort: '-c relayPort=8787',
  originType: '-c originType=vpc-origin (or public-dns)',
  originProtocol: '-c originProtocol=http-only',
  originReadTimeoutSeconds:
    '-c originReadTimeoutSeconds=60 (10 to 180; above 60 after a CloudFront quota increase)',
  waf: '-c waf=false',
  wafRateLimit: '-c wafRateLimit=2000 (requests per IP per 5 minutes)',
  cloudfrontPrefixListId: '-c cloudfrontPrefixListId=pl-3b927c52',
  corsOrigins: '-c corsOrigins=https://chat.example.com,https://app.example.com',
  adminCidrs: '-c adminCidrs=203.0.113.0/24,2001:db8::/32',
  imageExpirationDays: '-c imageExpirationDays=90',
  accessLogExpirationDays: '-c accessLogExpirationDays=90',
  logGroupName: '-c logGroupName=/llm-relay/relay',
  logRetentionDays: '-c logRetentionDays=30',
  ssmPrefix: '-c ssmPrefix=/llm-relay',
  relayConfigFile: '-c relayConfigFile=relay.deploy.json',
  relayWorkers: '-c relayWorkers=2 (or auto: one per vCPU)',
  relayConfig:
    '"relayConfig": {"channels": [{"name": "deepseek", "type": "openai", "baseUrl": "https://api.deepseek.com/v1", "apiKey": "env:DEEPSEEK_API_KEY", "models": ["deepseek-chat"]}]} in cdk.context.json',
  alarmEmail: '-c alarmEmail=ops@example.com',
  idleAlarmHours: '-c idleAlarmHours=24 (0 turns the alarm off)',
  githubRepo: '-c githubRepo=octo-org/llm-relay (or octo-org@123456/llm-relay@654321)',
  githubEnvironment: '-c githubEnvironment=production',
  deployNonce: '-c deployNonce=1234567890-1 (deploy.yml passes the run id and attempt)',
  fleet:
    '-c fleet=true (several hosts behind an internal load balancer, state in DynamoDB; docs/fleet.md)',
  fleetMinHosts: '-c fleetMinHosts=2',
  fleetMaxHosts: '-c fleetMaxHosts=4',
  fleetDesiredHosts: '-c fleetDesiredHosts=2 (between fleetMinHosts and fleetMaxHosts)',
  fleetCpuTargetPercent: '-c fleetCpuTargetPercent=60',
  fleetAvailabilityZones:
    '-c fleetAvailabilityZones=us-east-1a,us-east-1b (at least two zones that offer the instance type)',
  fleetTablePrefix: '-c fleetTablePrefix=llm-relay-',
  fleetSingleNatGateway:
    '-c fleetSingleNatGateway=true (one NAT gateway for all zones: cheaper, but the fleet loses its way out with that zone)',
};

const DOMAIN = /^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/;
const ENV_REF = /^env:[A-Z_][A-Z0-9_]*$/;

const jsonish = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return value;
    }
  }
  return value;
};

const stringList = (value: unknown): unknown => {
  const parsed = jsonish(value);
  return typeof parsed === 'string'
    ? parsed
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : parsed;
};

const optionalString = (value: unknown): unknown => (value === '' ? undefined : value);

/** `-c waf=false` arrives as the string "false". */
const booleanish = (value: unknown): unknown =>
  value === 'true' ? true : value === 'false' ? false : value;

const WORKERS_MESSAGE = 'must be a whole number from 1 to 256 or "auto"';

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The part of the relay's own config (app/src/config.ts owns the full schema) that the deploy
 * must police: the file ends up in CloudFormation metadata, so it must hold no secrets.
 */
const relayConfigSchema = z.looseObject({
  server: z.looseObject({}).optional(),
  channels: z
    .array(
      z.looseObject({
        name: z.string().min(1),
        apiKey: z
          .string()
          .regex(
            ENV_REF,
            'must be "env:NAME": the key itself goes to SSM (npm run secrets), never into the template',
          )
          .optional(),
      }),
    )
    .optional(),
  keys: z
    .array(z.unknown())
    .max(
      0,
      'must be empty: client keys are secrets; create them on the host with the keys CLI instead',
    )
    .optional(),
  admin: z
    .looseObject({
      keys: z
        .array(
          z.looseObject({
            key: z
              .string()
              .regex(
                ENV_REF,
                'must be "env:NAME": admin keys go to SSM (npm run secrets -- admin-key), never into the template',
              ),
          }),
        )
        .optional(),
    })
    .optional(),
});

export type RelayConfigInput = z.infer<typeof relayConfigSchema>;

const contextBase = z.object({
  account: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
  ),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region name')
    .default('us-east-1'),
  stackPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,40}$/, 'must be letters, digits and dashes')
    .default('LlmRelay'),
  apiDomain: z.string({ error: 'is required' }).toLowerCase().regex(DOMAIN, 'must be a DNS name'),
  hostedZoneName: z.preprocess(
    optionalString,
    z.string().toLowerCase().regex(DOMAIN, 'must be a DNS name').optional(),
  ),
  hostedZoneId: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^Z[A-Z0-9]{4,31}$/, 'must be a Route 53 hosted zone id')
      .optional(),
  ),
  instanceType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'must be an EC2 instance type')
    .default('t4g.small'),
  instanceArch: z.preprocess(optionalString, z.enum(['arm64', 'x86_64']).optional()),
  availabilityZone: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be an Availability Zone name')
      .optional(),
  ),
  dataVolumeGiB: intIn(1, 16384).default(20),
  dataVolumeSnapshotId: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^snap-[0-9a-f]{8,17}$/, 'must be an EBS snapshot id')
      .optional(),
  ),
  backupRetentionDays: intIn(1, 36500).default(35),
  patchSchedule: z
    .string()
    .regex(/^cron\(.+\)$|^rate\(.+\)$/, 'must be a cron(…) or rate(…) expression')
    .default('cron(0 4 ? * SUN *)'),
  relayPort: intIn(1024, 65535).default(8787),
  originType: z.enum(['vpc-origin', 'public-dns']).default('vpc-origin'),
  // The relay serves plain HTTP: an HTTPS origin needs a certificate for the host's own name,
  // which does not exist, so those two values would only ever produce 502s.
  originProtocol: z
    .enum(['http-only', 'https-only', 'match-viewer'])
    .refine((p) => p === 'http-only', {
      message:
        'must be http-only: the relay serves plain HTTP, so https-only and match-viewer give 502 on every request',
    })
    .default('http-only'),
  originReadTimeoutSeconds: intIn(10, 180).default(60),
  waf: z.preprocess(booleanish, z.boolean('must be true or false').default(true)),
  wafRateLimit: intIn(10, 2_000_000_000).default(2000),
  cloudfrontPrefixListId: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^pl-[0-9a-f]{8,17}$/, 'must be a prefix list id')
      .optional(),
  ),
  corsOrigins: z.preprocess(
    stringList,
    z
      .array(z.string().regex(/^(\*|https?:\/\/[^\s/]+)$/, 'must be "*" or an origin'))
      .min(1)
      .default(['*']),
  ),
  adminCidrs: z.preprocess(
    stringList,
    z
      .array(
        z.string().refine((cidr) => {
          try {
            parseCidr(cidr);
            return true;
          } catch {
            return false;
          }
        }, 'must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24'),
      )
      .default([]),
  ),
  imageExpirationDays: intIn(1, 36500).default(90),
  accessLogExpirationDays: intIn(1, 36500).default(90),
  logGroupName: z
    .string()
    .regex(/^[\w\-./#]{1,512}$/, 'must be a CloudWatch Logs group name')
    .default('/llm-relay/relay'),
  logRetentionDays: z.coerce
    .number()
    .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  ssmPrefix: z
    .string()
    .regex(/^(\/[\w.-]+)+$/, 'must start with "/" and not end with "/"')
    .default('/llm-relay'),
  relayConfigFile: z.preprocess(optionalString, z.string().optional()),
  relayConfig: z.preprocess(jsonish, relayConfigSchema.optional()),
  /** The relay's server.workers; unset leaves the relay config's own (default 1). */
  relayWorkers: z.preprocess(
    optionalString,
    z
      .union(
        [
          z.literal('auto'),
          z.coerce
            .number(WORKERS_MESSAGE)
            .int(WORKERS_MESSAGE)
            .min(1, WORKERS_MESSAGE)
            .max(256, WORKERS_MESSAGE),
        ],
        WORKERS_MESSAGE,
      )
      .optional(),
  ),
  alarmEmail: z.preprocess(optionalString, z.email('must be an email address').optional()),
  idleAlarmHours: intIn(0, 24).default(24),
  githubRepo: z.preprocess(
    optionalString,
    z
      .string()
      .regex(REPOSITORY_PATTERN, 'must be "owner/name" or "owner@ownerId/name@repoId"')
      .optional(),
  ),
  githubEnvironment: z.string().min(1).default('production'),
  deployNonce: z.preprocess(
    optionalString,
    z
      .string()
      .regex(/^[\w.-]{1,64}$/, 'must be up to 64 letters, digits, ".", "_" or "-"')
      .optional(),
  ),
  fleet: z.preprocess(booleanish, z.boolean('must be true or false').default(false)),
  fleetMinHosts: intIn(1, 100).default(2),
  fleetMaxHosts: intIn(1, 100).default(4),
  fleetDesiredHosts: intIn(1, 100).default(2),
  fleetCpuTargetPercent: intIn(10, 90).default(60),
  fleetAvailabilityZones: z.preprocess(
    stringList,
    z
      .array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'must be Availability Zone names'))
      .min(2, 'must name at least two zones')
      .optional(),
  ),
  // DynamoDB table names: letters, digits, "_", "-", "."; the longest suffix ("admin") still fits.
  fleetTablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,200}$/, 'must be letters, digits, "_", "-" or "."')
    .default('llm-relay-'),
  fleetSingleNatGateway: z.preprocess(
    booleanish,
    z.boolean('must be true or false').default(false),
  ),
});

const contextSchema = contextBase.superRefine((c, ctx) => {
  if (c.hostedZoneId && !c.hostedZoneName) {
    ctx.addIssue({
      code: 'custom',
      path: ['hostedZoneName'],
      message: 'is required when hostedZoneId is set (an imported zone is not looked up)',
    });
  }
  // The base schema already reported a malformed apiDomain; zone checks would only add noise.
  if (!DOMAIN.test(c.apiDomain)) return;
  const zone = c.hostedZoneName ?? parentDomain(c.apiDomain);
  if (zone && c.apiDomain !== zone && !c.apiDomain.endsWith(`.${zone}`)) {
    ctx.addIssue({
      code: 'custom',
      path: ['apiDomain'],
      message: `must be inside the hosted zone ${zone}`,
    });
  }
  if (!c.hostedZoneName && !zone) {
    ctx.addIssue({
      code: 'custom',
      path: ['hostedZoneName'],
      message: 'is required when apiDomain has no parent domain',
    });
  }
  if (c.availabilityZone && !c.availabilityZone.startsWith(c.region)) {
    ctx.addIssue({
      code: 'custom',
      path: ['availabilityZone'],
      message: `must be a zone of region ${c.region}`,
    });
  }
  if (c.fleet) checkFleet(c, ctx);
  if (c.relayConfig && c.relayConfigFile) {
    ctx.addIssue({
      code: 'custom',
      path: ['relayConfig'],
      message: 'cannot be combined with relayConfigFile; use one of them',
    });
  }
});

/** Fleet settings that only make sense together; checked only with `fleet=true`. */
function checkFleet(c: z.infer<typeof contextBase>, ctx: z.core.$RefinementCtx): void {
  const issue = (key: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [key], message });
  if (c.fleetMinHosts > c.fleetMaxHosts) {
    issue('fleetMinHosts', `must not exceed fleetMaxHosts (${c.fleetMaxHosts})`);
  }
  if (c.fleetDesiredHosts < c.fleetMinHosts || c.fleetDesiredHosts > c.fleetMaxHosts) {
    issue(
      'fleetDesiredHosts',
      `must be between fleetMinHosts (${c.fleetMinHosts}) and fleetMaxHosts (${c.fleetMaxHosts})`,
    );
  }
  if (c.originType !== 'vpc-origin') {
    issue(
      'originType',
      'must be vpc-origin with fleet=true: CloudFront reaches the internal load balancer only that way',
    );
  }
  if (c.availabilityZone) {
    issue(
      'availabilityZone',
      "is the single host's zone; with fleet=true set fleetAvailabilityZones instead",
    );
  }
  for (const zone of c.fleetAvailabilityZones ?? []) {
    if (!zone.startsWith(c.region))
      issue('fleetAvailabilityZones', `${zone} is not a zone of region ${c.region}`);
  }
  // The load balancer's idle timeout follows the read timeout, and the relay keeps idle
  // connections open for 65 s: a longer idle timeout would let the balancer reuse a connection
  // the relay has just closed (a 502).
  if (c.originReadTimeoutSeconds > 60) {
    issue(
      'originReadTimeoutSeconds',
      "must be at most 60 with fleet=true (the relay closes idle connections after 65 s, which must outlast the load balancer's idle timeout)",
    );
  }
}

export type CloudFrontPrefixList = { readonly id: string } | { readonly lookup: true };

/** Validated deploy settings; everything a stack needs, nothing read from context later. */
export interface DeployConfig {
  readonly account: string | undefined;
  readonly region: string;
  readonly stackPrefix: string;
  readonly apiDomain: string;
  readonly hostedZone:
    | { readonly kind: 'create'; readonly zoneName: string }
    | { readonly kind: 'import'; readonly zoneName: string; readonly hostedZoneId: string };
  readonly instanceType: string;
  readonly instanceArch: 'arm64' | 'x86_64';
  /** undefined: the region's first zone by name. */
  readonly availabilityZone: string | undefined;
  readonly dataVolumeGiB: number;
  readonly dataVolumeSnapshotId: string | undefined;
  readonly backupRetentionDays: number;
  readonly patchSchedule: string;
  readonly relayPort: number;
  readonly originType: 'vpc-origin' | 'public-dns';
  readonly originProtocol: 'http-only';
  readonly originReadTimeoutSeconds: number;
  /** Only the public-DNS origin admits CloudFront's public address ranges. */
  readonly cloudfrontPrefixList: CloudFrontPrefixList;
  readonly waf: { readonly enabled: boolean; readonly rateLimit: number };
  readonly corsOrigins: readonly string[];
  /** Empty: /admin open to any address. */
  readonly adminCidrs: readonly string[];
  readonly imageExpirationDays: number;
  readonly accessLogExpirationDays: number;
  readonly logGroupName: string;
  readonly logRetentionDays: number;
  readonly ssmPrefix: string;
  /** The operator's relay config (channels, prices…), without the parts the deploy owns. */
  readonly relayConfig: Readonly<Record<string, unknown>>;
  readonly alarmEmail: string | undefined;
  readonly idleAlarmHours: number;
  readonly github: {
    readonly repository: string | undefined;
    readonly environment: string;
  };
  /** Changes the host's Init metadata on each deploy, so cfn-init re-runs (a retry). */
  readonly deployNonce: string | undefined;
  /** Several hosts behind an internal load balancer, state in DynamoDB; undefined: one host. */
  readonly fleet: FleetConfig | undefined;
}

export interface FleetConfig {
  readonly minHosts: number;
  readonly maxHosts: number;
  readonly desiredHosts: number;
  readonly cpuTargetPercent: number;
  /** undefined: the region's first two zones. */
  readonly availabilityZones: readonly string[] | undefined;
  /** The DynamoDB tables are `${tablePrefix}keys`, `…usage`, `…rate`, `…admin`. */
  readonly tablePrefix: string;
  /**
   * One NAT gateway for every zone (about $33 a month less per zone saved) instead of one per
   * zone; losing that zone then cuts every host off the providers.
   */
  readonly singleNatGateway: boolean;
}

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

function parentDomain(domain: string): string | undefined {
  const dot = domain.indexOf('.');
  const parent = dot < 0 ? '' : domain.slice(dot + 1);
  return parent.includes('.') ? parent : undefined;
}

/** Graviton instance families carry a "g" right after the generation number (t4g, m7g, c8gd). */
function inferArch(instanceType: string): 'arm64' | 'x86_64' {
  const family = instanceType.split('.')[0] ?? '';
  return /^[a-z]+\d+g/.test(family) ? 'arm64' : 'x86_64';
}

function describe(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const [key, ...rest] = issue.path.map(String);
      const where = [key, ...rest].filter(Boolean).join('.');
      const example = key ? CONTEXT_EXAMPLES[key] : undefined;
      return `  - context "${where}": ${issue.message}${example ? ` (example: ${example})` : ''}`;
    })
    .join('\n');
}

/**
 * Reads and validates the deploy settings once. `getContext` is usually
 * `(key) => app.node.tryGetContext(key)`; `env` supplies the CLI's default account.
 * Throws DeployConfigError naming every bad key with an example.
 */
export function readDeployConfig(
  getContext: (key: string) => unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): DeployConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(contextSchema.shape)) raw[key] = getContext(key);
  raw.account ??= env.CDK_DEFAULT_ACCOUNT;

  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DeployConfigError(`Invalid deploy settings:\n${describe(parsed.error.issues)}`);
  }
  const c = parsed.data;

  let relayConfig: RelayConfigInput = c.relayConfig ?? {};
  if (c.relayConfigFile) relayConfig = loadRelayConfigFile(resolve(cwd, c.relayConfigFile));
  if (c.relayWorkers !== undefined) {
    relayConfig = { ...relayConfig, server: { ...relayConfig.server, workers: c.relayWorkers } };
  }
  checkWithRelaySchema(relayConfig, c.relayConfigFile ? 'relayConfigFile' : 'relayConfig');

  const instanceArch = c.instanceArch ?? inferArch(c.instanceType);
  if (instanceArch !== inferArch(c.instanceType)) {
    throw new DeployConfigError(
      `Invalid deploy settings:\n  - context "instanceArch": ${instanceArch} does not match instance type ${c.instanceType} (example: ${CONTEXT_EXAMPLES.instanceArch})`,
    );
  }

  const knownPrefixList = KNOWN_CLOUDFRONT_PREFIX_LISTS[c.region];
  const cloudfrontPrefixList: CloudFrontPrefixList = c.cloudfrontPrefixListId
    ? { id: c.cloudfrontPrefixListId }
    : knownPrefixList
      ? { id: knownPrefixList }
      : { lookup: true };
  if ('lookup' in cloudfrontPrefixList && c.originType === 'public-dns' && !c.account) {
    throw new DeployConfigError(
      `Invalid deploy settings:\n  - context "cloudfrontPrefixListId": region ${c.region} has no built-in CloudFront prefix list id; set it, or set "account" so it can be looked up (example: ${CONTEXT_EXAMPLES.cloudfrontPrefixListId})`,
    );
  }

  const zoneName = c.hostedZoneName ?? parentDomain(c.apiDomain) ?? c.apiDomain;
  return {
    account: c.account,
    region: c.region,
    stackPrefix: c.stackPrefix,
    apiDomain: c.apiDomain,
    hostedZone: c.hostedZoneId
      ? { kind: 'import', zoneName, hostedZoneId: c.hostedZoneId }
      : { kind: 'create', zoneName },
    instanceType: c.instanceType,
    instanceArch,
    availabilityZone: c.availabilityZone,
    dataVolumeGiB: c.dataVolumeGiB,
    dataVolumeSnapshotId: c.dataVolumeSnapshotId,
    backupRetentionDays: c.backupRetentionDays,
    patchSchedule: c.patchSchedule,
    relayPort: c.relayPort,
    originType: c.originType,
    originProtocol: 'http-only',
    originReadTimeoutSeconds: c.originReadTimeoutSeconds,
    cloudfrontPrefixList,
    waf: { enabled: c.waf, rateLimit: c.wafRateLimit },
    corsOrigins: c.corsOrigins,
    adminCidrs: c.adminCidrs,
    imageExpirationDays: c.imageExpirationDays,
    accessLogExpirationDays: c.accessLogExpirationDays,
    logGroupName: c.logGroupName,
    logRetentionDays: c.logRetentionDays,
    ssmPrefix: c.ssmPrefix,
    relayConfig,
    alarmEmail: c.alarmEmail,
    idleAlarmHours: c.idleAlarmHours,
    github: {
      repository: c.githubRepo,
      environment: c.githubEnvironment,
    },
    deployNonce: c.deployNonce,
    fleet: c.fleet
      ? {
          minHosts: c.fleetMinHosts,
          maxHosts: c.fleetMaxHosts,
          desiredHosts: c.fleetDesiredHosts,
          cpuTargetPercent: c.fleetCpuTargetPercent,
          availabilityZones: c.fleetAvailabilityZones,
          tablePrefix: c.fleetTablePrefix,
          singleNatGateway: c.fleetSingleNatGateway,
        }
      : undefined,
  };
}

function loadRelayConfigFile(path: string): RelayConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new DeployConfigError(
      `Invalid deploy settings:\n  - context "relayConfigFile": cannot read ${path} (example: ${CONTEXT_EXAMPLES.relayConfigFile})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DeployConfigError(
      `Invalid deploy settings:\n  - context "relayConfigFile": ${path} is not valid JSON`,
    );
  }
  const parsed = relayConfigSchema.safeParse(json);
  if (!parsed.success) {
    // Report under relayConfigFile so the operator knows which setting pointed at the file.
    const issues = parsed.error.issues.map((i) => ({ ...i, path: ['relayConfigFile', ...i.path] }));
    throw new DeployConfigError(`Invalid deploy settings:\n${describe(issues)}`);
  }
  return parsed.data;
}

/**
 * The relay's own schema (app/src/config.ts), so a typo or a wrong type fails `cdk synth` with its
 * path instead of the service on the host. Only the operator's part is checked: the deploy adds
 * the origin secret, public URL, image and backup stores itself.
 */
function checkWithRelaySchema(config: RelayConfigInput, key: string): void {
  const parsed = relaySchema.safeParse(config);
  if (parsed.success) return;
  const issues = parsed.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }));
  throw new DeployConfigError(`Invalid deploy settings:\n${describe(issues)}`);
}
