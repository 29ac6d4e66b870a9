import type { Io, StaticCredentials } from './cli.ts';

export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: StaticCredentials;
  maxAttempts?: number;
}

/**
 * Client settings shared by every script. Region and endpoint come from the flag first, then
 * the environment the script was given; left unset, the SDK's own chain (profile config)
 * decides. AWS_ENDPOINT_URL points the SDK at a stand-in (LocalStack, the tests' fakes).
 */
export function awsClientConfig(io: Io, region: string | undefined): AwsClientConfig {
  const config: AwsClientConfig = {};
  const resolvedRegion = region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
  if (resolvedRegion) config.region = resolvedRegion;
  if (io.env.AWS_ENDPOINT_URL) config.endpoint = io.env.AWS_ENDPOINT_URL;
  if (io.credentials) config.credentials = io.credentials;
  return config;
}

export const REGION_HELP = `AWS settings:
  --region R         AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then your profile)
  Credentials come from the usual chain: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO.
  AWS_ENDPOINT_URL sends every call to another endpoint (LocalStack, test fakes).`;
