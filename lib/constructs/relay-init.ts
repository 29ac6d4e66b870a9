import { createHash } from 'node:crypto';
import type { Stack } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { relayConfigSchema } from '../../app/src/config.ts';
import { BACKUP_KEY_PREFIX, IMAGE_KEY_PREFIX } from './image-bucket.ts';
import type { ImageBucket } from './image-bucket.ts';
import {
  HOST_PATHS,
  NODE_PACKAGE,
  OPS_USER,
  RELAY_SERVICE,
  RELAY_USER,
  activateReleaseScript,
  backupWrapperScript,
  cfnAutoReloaderHook,
  cfnHupConfig,
  cfnHupUnit,
  fetchSecretsScript,
  keysWrapperScript,
  logrotateConfig,
  mountDataScript,
  nodeVersionCheck,
  relayUnit,
} from './relay-host-files.ts';

/**
 * Time the relay keeps between its non-streaming budget and CloudFront's origin read timeout:
 * writing the usage row and sending a large answer come after the budget check.
 */
export const NON_STREAM_MARGIN_MS = 5_000;
/** systemd's stop timeout past the relay's drain: the cluster primary's 5 s backstop, plus 10 s. */
export const STOP_MARGIN_SECONDS = 15;

export const CONFIG_SETS = ['default'];

/**
 * A fleet host's `server.drainDelayMs` unless the operator sets one: after SIGTERM (a stop or
 * restart on the host) it fails /healthz for this long while still serving, so the load balancer
 * (two failed checks 10 s apart) has taken it out before its listener closes. Scale-in and instance
 * refresh deregister the host first anyway (see the target group's deregistration delay).
 */
export const FLEET_DRAIN_DELAY_MS = 25_000;

/** The DynamoDB store a fleet's hosts share (app/src/config.ts `store`). */
export interface DynamoStoreConfig {
  readonly type: 'dynamodb';
  readonly tablePrefix: string;
  readonly region: string;
}

/** What the relay on a host runs with: the same for the single host and every fleet host. */
export interface RelayInitProps {
  /** Directory holding the esbuild bundle (server.mjs, keys.mjs, backup.mjs) the host runs. */
  readonly bundleDir: string;
  /**
   * The operator's relay config (channels, prices…). `server.originSecret`,
   * `server.publicBaseUrl`, `server.nonStreamBudgetMs`, `images` and `backup` are set here.
   * @default {}
   */
  readonly relayConfig?: Readonly<Record<string, unknown>>;
  /**
   * Browser origins the API admits: the default of the relay's `server.corsOrigins` (the
   * operator's relayConfig value wins).
   * @default - the relay's default
   */
  readonly corsOrigins?: readonly string[];
  /**
   * A value that differs per deploy (deploy.yml passes the run id and attempt). cfn-hup re-runs
   * cfn-init only when the Init metadata changes, so an activation that failed would never be
   * tried again by re-running the same deploy; this value in the metadata makes it re-run.
   * Outside the fingerprint: activate-release stays a no-op when the release is already live.
   * @default - none: cfn-init re-runs only on a real change
   */
  readonly deployNonce?: string;
  /** Public https base URL of the API, used in image URLs. */
  readonly publicBaseUrl: string;
  /** Where generated images and database backups go; the role gets the bucket's two policies. */
  readonly imageBucket: Pick<ImageBucket, 'bucket' | 'writerPolicy' | 'backupPolicy'>;
  readonly originSecret: secretsmanager.ISecret;
  /** Name of the (existing) log group the agent ships the relay's JSON log to. */
  readonly logGroupName: string;
  /**
   * CloudFront's origin read timeout: non-streaming requests must end before it.
   * @default Duration.seconds(60)
   */
  readonly originReadTimeout?: Duration;
}

/** How one host (or fleet) differs: its bundle id, port, agent config, and the optional parts. */
export interface RelayInitOptions {
  readonly buildId: string;
  readonly port: number;
  readonly ssmPrefix: string;
  /** Name of the SSM parameter holding the CloudWatch agent config, and that config. */
  readonly agentConfigParameterName: string;
  readonly agentConfig: Record<string, unknown>;
  /** The single host's data volume (SQLite): mounted, grown, backed up. Fleet hosts have none. */
  readonly dataVolume?: {
    readonly volumeId: string;
    readonly device: string;
    readonly sizeGiB: number;
  };
  /**
   * cfn-hup watching this resource's Init metadata (the single host's in-place updates). Fleet
   * hosts are replaced by a rolling update instead.
   */
  readonly cfnHupLogicalId?: string;
  /** Set on fleet hosts: state in DynamoDB, no SQLite backups. */
  readonly store?: DynamoStoreConfig;
}

/** The relay config a host runs: the operator's, plus what this deployment decides. */
export function hostRelayConfig(
  props: RelayInitProps,
  store?: DynamoStoreConfig,
): { readonly config: Record<string, unknown>; readonly stopTimeoutSeconds: number } {
  const operator = props.relayConfig ?? {};
  // Defaults as the relay applies them (the operator's part was validated at synth already).
  const parsed = relayConfigSchema.parse(operator);
  const readTimeoutMs = (props.originReadTimeout ?? Duration.seconds(60)).toMilliseconds();
  const cap = readTimeoutMs - NON_STREAM_MARGIN_MS;
  const own = parsed.server.nonStreamBudgetMs;
  if (own !== undefined && own > cap) {
    throw new Error(
      `relayConfig.server.nonStreamBudgetMs (${own}) must stay below CloudFront's origin read timeout: at most ${cap} for originReadTimeoutSeconds ${readTimeoutMs / 1000}`,
    );
  }
  const operatorServer = operator.server as Record<string, unknown> | undefined;
  const operatorDrain = operatorServer?.drainDelayMs as number | undefined;
  const drainDelayMs = operatorDrain ?? (store ? FLEET_DRAIN_DELAY_MS : 0);
  const operatorBackup = operator.backup as Record<string, unknown> | undefined;
  const bucket = props.imageBucket.bucket;
  return {
    config: {
      // A fleet has no SQLite file: an operator's backup settings do not apply to it.
      ...(store
        ? Object.fromEntries(Object.entries(operator).filter(([key]) => key !== 'backup'))
        : operator),
      server: {
        ...(props.corsOrigins && { corsOrigins: [...props.corsOrigins] }),
        ...operatorServer,
        originSecret: 'env:RELAY_ORIGIN_SECRET',
        publicBaseUrl: props.publicBaseUrl,
        nonStreamBudgetMs: own ?? cap,
        ...(store && { drainDelayMs }),
      },
      images: {
        store: 's3',
        bucket: bucket.bucketName,
        region: bucket.stack.region,
        prefix: IMAGE_KEY_PREFIX,
      },
      // A fleet keeps its state in DynamoDB (point-in-time recovery): no SQLite file to back up.
      // The operator's own store settings (holdLeaseMs…) stay; the deploy decides only which
      // tables the hosts share, and where.
      ...(store
        ? { store: { ...(operator.store as Record<string, unknown> | undefined), ...store } }
        : {
            backup: {
              ...(operatorBackup?.intervalMinutes !== undefined && {
                intervalMinutes: operatorBackup.intervalMinutes,
              }),
              bucket: bucket.bucketName,
              region: bucket.stack.region,
              prefix: `${BACKUP_KEY_PREFIX}sqlite/`,
            },
          }),
    },
    stopTimeoutSeconds:
      Math.ceil((drainDelayMs + parsed.server.shutdownGraceMs) / 1000) + STOP_MARGIN_SECONDS,
  };
}

/**
 * The CloudFormation Init bootstrap of a relay host: runtime, agent, service user, the release
 * (activated only if /healthz reports it), config, secrets fetch and the systemd unit. The single
 * host adds its data volume and cfn-hup; a fleet host neither.
 */
export function relayHostInit(
  stack: Stack,
  props: RelayInitProps,
  o: RelayInitOptions,
): ec2.CloudFormationInit {
  const restartCfnHup = new ec2.InitServiceRestartHandle();
  const { config, stopTimeoutSeconds } = hostRelayConfig(props, o.store);
  const configText = JSON.stringify(config, null, 2);
  const unitText = relayUnit({ port: o.port, region: stack.region, stopTimeoutSeconds });
  const fetchSecretsText = fetchSecretsScript({
    region: stack.region,
    originSecretArn: props.originSecret.secretArn,
    envParameterPath: `${o.ssmPrefix}/env/`,
  });
  const release = `${HOST_PATHS.releasesDir}/${o.buildId}`;
  // What the relay runs with: a change to any of it means a restart (and a health check).
  const fingerprint = sha256(
    JSON.stringify(stack.resolve([o.buildId, configText, unitText, fetchSecretsText])),
  ).slice(0, 16);
  const hup = o.cfnHupLogicalId
    ? {
        stackName: stack.stackName,
        region: stack.region,
        logicalId: o.cfnHupLogicalId,
        configSets: CONFIG_SETS,
      }
    : undefined;
  const volume = o.dataVolume;
  const root = { owner: 'root', group: 'root' };

  return ec2.CloudFormationInit.fromConfigSets({
    configSets: { default: ['system', 'relay'] },
    configs: {
      // Runtime, agent, data volume and the service user must exist before files are chowned.
      system: new ec2.InitConfig([
        ec2.InitPackage.yum(NODE_PACKAGE),
        ec2.InitPackage.yum('amazon-cloudwatch-agent'),
        ec2.InitPackage.yum('logrotate'),
        // AL2023 pins dnf to its AMI's release; Patch Manager's weekly run should see updates.
        ec2.InitFile.fromString(HOST_PATHS.dnfReleasever, 'latest\n', { mode: '000644' }),
        ...(volume
          ? [
              ec2.InitFile.fromString(
                HOST_PATHS.mountData,
                mountDataScript({ volumeId: volume.volumeId, device: volume.device }),
                { ...root, mode: '000700' },
              ),
            ]
          : []),
        ec2.InitCommand.shellCommand(
          `id -u ${RELAY_USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir ${HOST_PATHS.dataDir} --shell /sbin/nologin ${RELAY_USER}`,
          { key: '10-user' },
        ),
        // Read-only ops sessions run as this user; systemd-journal lets it read the journal.
        ec2.InitCommand.shellCommand(
          `id -u ${OPS_USER} >/dev/null 2>&1 || useradd --create-home --user-group --shell /bin/bash --groups systemd-journal ${OPS_USER}`,
          { key: '11-ops-user' },
        ),
        ...(volume
          ? [
              ec2.InitCommand.shellCommand(HOST_PATHS.mountData, {
                key: '15-data-volume',
                // The size in the metadata: growing the volume re-runs this, which grows the file system.
                env: { DATA_VOLUME_GIB: String(volume.sizeGiB) },
              }),
            ]
          : []),
        ec2.InitCommand.shellCommand(
          // The log directory's group is the ops user's: ops sessions read the relay log, and
          // nothing else of the relay (config, secrets and database stay llm-relay's).
          `install -d -o root -g ${RELAY_USER} -m 0750 ${HOST_PATHS.configDir} && install -d -o ${RELAY_USER} -g ${RELAY_USER} -m 0750 ${HOST_PATHS.dataDir} && install -d -o ${RELAY_USER} -g ${OPS_USER} -m 0750 ${HOST_PATHS.logDir} && install -d -m 0755 ${HOST_PATHS.releasesDir}`,
          { key: '20-dirs' },
        ),
        ec2.InitCommand.shellCommand(nodeVersionCheck(), { key: '30-node' }),
      ]),
      relay: new ec2.InitConfig([
        ec2.InitSource.fromAsset(release, props.bundleDir),
        ec2.InitFile.fromString(HOST_PATHS.configFile, configText, {
          owner: 'root',
          group: RELAY_USER,
          mode: '000640',
        }),
        ec2.InitFile.fromString(HOST_PATHS.fetchSecrets, fetchSecretsText, {
          ...root,
          mode: '000700',
        }),
        ec2.InitFile.fromString(
          HOST_PATHS.activateRelease,
          activateReleaseScript({ port: o.port }),
          {
            ...root,
            mode: '000700',
          },
        ),
        ec2.InitFile.fromString(HOST_PATHS.keysWrapper, keysWrapperScript(), {
          ...root,
          mode: '000755',
        }),
        // The backup CLI works on the SQLite file, which only the single host has.
        ...(volume
          ? [
              ec2.InitFile.fromString(HOST_PATHS.backupWrapper, backupWrapperScript(), {
                ...root,
                mode: '000755',
              }),
            ]
          : []),
        ec2.InitFile.fromString(HOST_PATHS.unit, unitText, { mode: '000644' }),
        ec2.InitFile.fromString('/etc/logrotate.d/llm-relay', logrotateConfig(), {
          mode: '000644',
        }),
        ...(hup
          ? [
              ec2.InitFile.fromString('/etc/cfn/cfn-hup.conf', cfnHupConfig(hup), {
                mode: '000400',
                serviceRestartHandles: [restartCfnHup],
              }),
              ec2.InitFile.fromString(
                '/etc/cfn/hooks.d/cfn-auto-reloader.conf',
                cfnAutoReloaderHook(hup),
                { mode: '000400', serviceRestartHandles: [restartCfnHup] },
              ),
              ec2.InitFile.fromString('/etc/systemd/system/cfn-hup.service', cfnHupUnit(), {
                mode: '000644',
                serviceRestartHandles: [restartCfnHup],
              }),
            ]
          : []),
        ec2.InitCommand.shellCommand('systemctl daemon-reload', { key: '10-daemon-reload' }),
        ec2.InitCommand.shellCommand(
          `/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c ssm:${o.agentConfigParameterName}`,
          {
            key: '20-cloudwatch-agent',
            // The agent config lives in SSM, outside this metadata; its hash here makes a config
            // change a metadata change, so cfn-hup re-runs this command.
            env: { AGENT_CONFIG_SHA256: sha256(JSON.stringify(o.agentConfig)) },
          },
        ),
        // Restarts the relay only when its release, config or unit changed, keeps the new
        // release only if /healthz reports it, and fails cfn-init otherwise.
        ec2.InitCommand.shellCommand(`${HOST_PATHS.activateRelease} ${o.buildId} ${fingerprint}`, {
          key: '30-activate-release',
          ...(props.deployNonce && { env: { LLM_RELAY_DEPLOY: props.deployNonce } }),
        }),
        ec2.InitService.enable(RELAY_SERVICE, { serviceManager: ec2.ServiceManager.SYSTEMD }),
        ...(hup
          ? [
              ec2.InitService.enable('cfn-hup', {
                serviceManager: ec2.ServiceManager.SYSTEMD,
                serviceRestartHandle: restartCfnHup,
              }),
            ]
          : []),
      ]),
    },
  });
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
