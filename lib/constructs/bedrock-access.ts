/**
 * What the host role may call on Amazon Bedrock when the relay config has bedrock channels:
 * exactly the four runtime actions the relay uses, on exactly the models those channels name.
 *
 * Resources, per model id a channel lists (`models`, and the targets of `modelMap`):
 * - a foundation model (`anthropic.claude-…`): `arn:aws:bedrock:<channel region>::foundation-model/<id>`;
 * - a cross-region inference profile (`us.`, `eu.`, `apac.`, `jp.`, `au.`, `ca.` …): the profile
 *   in the channel's region (`…:<account>:inference-profile/<id>`) and the underlying foundation
 *   model in every region the profile routes to. Bedrock authorizes the routed call against the
 *   foundation model in the region that serves it, so a missing region fails at random, when
 *   the profile happens to route there. The regions per geography are the table below, from
 *   the Bedrock user guide's list of supported Regions for inference profiles; a profile that
 *   starts routing to a new region needs the table updated.
 * - a global profile (`global.`): the profile, the foundation model in the channel's region, and
 *   the region-less foundation model ARN (`arn:aws:bedrock:::foundation-model/<id>`), which is
 *   how Bedrock's documentation grants global routing without naming every region.
 * - a full ARN of a foundation model or a system inference profile: as given.
 * Synth refuses, with a message that says what to write instead:
 * - patterns (`*`), which cannot be granted without wildcard resources;
 * - a profile id whose geography prefix is not in the table (a new geography): granting it
 *   would name a foundation model that does not exist, and calls would fail at random;
 * - application inference profile ARNs: Bedrock also authorizes the foundation models the
 *   profile routes to, which synth cannot read from the ARN (and the relay cannot tell which
 *   model family it serves): name the system profile or foundation model id instead.
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

export const BEDROCK_ACTIONS = [
  'bedrock:InvokeModel',
  'bedrock:InvokeModelWithResponseStream',
  'bedrock:Converse',
  'bedrock:ConverseStream',
] as const;

/** Where each geography's cross-region inference profiles route (Bedrock user guide). */
export const PROFILE_REGIONS: Readonly<Record<string, readonly string[]>> = {
  us: ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'],
  'us-gov': ['us-gov-east-1', 'us-gov-west-1'],
  ca: ['ca-central-1', 'ca-west-1'],
  eu: [
    'eu-central-1',
    'eu-central-2',
    'eu-north-1',
    'eu-south-1',
    'eu-south-2',
    'eu-west-1',
    'eu-west-2',
    'eu-west-3',
  ],
  apac: [
    'ap-northeast-1',
    'ap-northeast-2',
    'ap-northeast-3',
    'ap-south-1',
    'ap-south-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-southeast-3',
    'ap-southeast-4',
  ],
  jp: ['ap-northeast-1', 'ap-northeast-3'],
  au: ['ap-southeast-2', 'ap-southeast-4'],
};

interface BedrockChannel {
  readonly name: string;
  readonly region: string;
  readonly models: readonly string[];
}

function bedrockChannels(relayConfig: Readonly<Record<string, unknown>>): BedrockChannel[] {
  const channels = Array.isArray(relayConfig.channels) ? relayConfig.channels : [];
  return channels
    .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
    .filter((c) => c.type === 'bedrock')
    .map((c) => {
      const models = Array.isArray(c.models) ? c.models.map(String) : [];
      const mapped =
        typeof c.modelMap === 'object' && c.modelMap !== null
          ? Object.values(c.modelMap).map(String)
          : [];
      return { name: String(c.name), region: String(c.region), models: [...models, ...mapped] };
    });
}

const fm = (region: string, id: string) =>
  `arn:${Aws.PARTITION}:bedrock:${region}::foundation-model/${id}`;

/**
 * The ARNs one model id of one channel needs; throws (with what to write instead) for an id
 * that cannot be granted exactly.
 */
export function bedrockModelArns(region: string, id: string): string[] {
  if (id.startsWith('arn:')) {
    if (/:application-inference-profile\//.test(id))
      throw new Error(
        `"${id}" is an application inference profile: Bedrock also checks the models it routes to, which the ARN does not name, so list the system inference profile or foundation model id it copies (e.g. "us.anthropic.claude-sonnet-4-5-20250929-v1:0")`,
      );
    return [id];
  }
  const dot = id.indexOf('.');
  const prefix = dot > 0 ? id.slice(0, dot) : '';
  const base = id.slice(dot + 1);
  const profile = `arn:${Aws.PARTITION}:bedrock:${region}:${Aws.ACCOUNT_ID}:inference-profile/${id}`;
  if (prefix === 'global')
    return [profile, fm(region, base), `arn:${Aws.PARTITION}:bedrock:::foundation-model/${base}`];
  const routes = PROFILE_REGIONS[prefix];
  if (routes) return [profile, ...routes.map((r) => fm(r, base))];
  // Foundation model ids are `<provider>.<model>` with no other dot before the version; a
  // second dot means `<geography>.<provider>.<model>`, a profile of a geography not listed.
  if (base.split(':')[0]!.includes('.'))
    throw new Error(
      `"${id}" looks like an inference profile of geography "${prefix}", whose regions are not known: add them to PROFILE_REGIONS in lib/constructs/bedrock-access.ts (from the Bedrock user guide), or use a listed geography (${Object.keys(PROFILE_REGIONS).join(', ')}, global)`,
    );
  return [fm(region, id)];
}

/** Adds the Bedrock statement to `role` when the config has bedrock channels; no-op otherwise. */
export function grantBedrockInvoke(
  role: iam.IRole,
  relayConfig: Readonly<Record<string, unknown>>,
): void {
  const channels = bedrockChannels(relayConfig);
  if (channels.length === 0) return;
  const resources = new Set<string>();
  for (const channel of channels) {
    if (channel.models.length === 0)
      throw new Error(
        `relayConfig channel "${channel.name}" (bedrock) lists no models: name each Bedrock model id (e.g. "us.anthropic.claude-sonnet-4-5-20250929-v1:0") so the host role can be granted exactly those`,
      );
    for (const id of channel.models) {
      if (id.includes('*'))
        throw new Error(
          `relayConfig channel "${channel.name}" (bedrock): "${id}" is a pattern; the host role is granted exact models only (no "*" resources), so list each Bedrock model id`,
        );
      let arns: string[];
      try {
        arns = bedrockModelArns(channel.region, id);
      } catch (err) {
        throw new Error(
          `relayConfig channel "${channel.name}" (bedrock): ${(err as Error).message}`,
          { cause: err },
        );
      }
      for (const arn of arns) resources.add(arn);
    }
  }
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...BEDROCK_ACTIONS], resources: [...resources].sort() }),
  );
}
