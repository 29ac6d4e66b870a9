import { App, Validations } from 'aws-cdk-lib';
import type { Environment } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { DeployConfigError, readDeployConfig } from '../lib/config.ts';
import type { DeployConfig } from '../lib/config.ts';
import { CertificateStack } from '../lib/certificate-stack.ts';
import { GithubDeployStack } from '../lib/github-deploy-stack.ts';
import { MonitoringStack } from '../lib/monitoring-stack.ts';
import { RelayStack, relayIdParameterNames } from '../lib/relay-stack.ts';
import { StatefulStack } from '../lib/stateful-stack.ts';
import { FleetRelayStack, fleetIdParameterNames } from '../lib/fleet-stack.ts';
import { fleetTableNames } from '../lib/constructs/fleet-tables.ts';
import { buildRelay } from '../scripts/build-relay.ts';

export interface RelayStacks {
  readonly stateful: StatefulStack;
  readonly certificate: CertificateStack;
  /** The single host (the default), or the fleet with `-c fleet=true`. */
  readonly relay: RelayStack | FleetRelayStack;
  readonly monitoring: MonitoringStack;
  /** Only with context `githubRepo`: the OIDC provider and role the deploy workflow assumes. */
  readonly githubDeploy?: GithubDeployStack;
}

export interface ComposeOptions {
  /** Directory holding the relay bundle the host runs (see scripts/build-relay.ts). */
  readonly relayBundleDir: string;
  /**
   * Run the cdk-nag AwsSolutions pack at synth; findings fail the synth.
   * @default true
   */
  readonly nag?: boolean;
}

/** Adds the relay's stacks to `app`, wired together, from validated settings. */
export function composeApp(app: App, config: DeployConfig, options: ComposeOptions): RelayStacks {
  const env: Environment = { account: config.account, region: config.region };
  // Both ends of a strong reference across regions would need this. The ones that cross today
  // are weak (Fn::GetStackOutput): the zone id (see StatefulStack), the certificate and web ACL
  // ARNs (see CertificateStack). The flag stays so a strong one added later still synthesizes.
  const crossRegionReferences = config.region !== 'us-east-1';
  const name = (suffix: string) => `${config.stackPrefix}-${suffix}`;

  const stateful = new StatefulStack(app, name('Stateful'), {
    env,
    crossRegionReferences,
    description:
      'llm-relay: image and backup bucket, access logs, relay log group, backup vault, hosted zone (retained)',
    zoneName: config.hostedZone.zoneName,
    hostedZoneId: config.hostedZone.kind === 'import' ? config.hostedZone.hostedZoneId : undefined,
    corsOrigins: config.corsOrigins,
    imageExpirationDays: config.imageExpirationDays,
    accessLogExpirationDays: config.accessLogExpirationDays,
    backupExpirationDays: config.backupRetentionDays,
    logGroupName: config.logGroupName,
    logRetentionDays: config.logRetentionDays,
    ...(config.fleet && { fleetTablePrefix: config.fleet.tablePrefix }),
  });

  const certificate = new CertificateStack(app, name('Certificate'), {
    env: { account: config.account, region: 'us-east-1' },
    crossRegionReferences,
    description: 'llm-relay: ACM certificate and WAF web ACL for CloudFront (us-east-1)',
    domainName: config.apiDomain,
    zone: stateful.zone,
    ...(config.waf.enabled && { waf: { rateLimit: config.waf.rateLimit } }),
  });

  const relayProps = {
    env,
    crossRegionReferences,
    apiDomain: config.apiDomain,
    zone: stateful.zone,
    certificate: certificate.certificate,
    images: stateful.images,
    accessLogBucket: stateful.accessLogBucket,
    logGroupName: stateful.logGroupName,
    relayBundleDir: options.relayBundleDir,
    relayConfig: config.relayConfig,
    instanceType: config.instanceType,
    instanceArch: config.instanceArch,
    relayPort: config.relayPort,
    originReadTimeoutSeconds: config.originReadTimeoutSeconds,
    corsOrigins: config.corsOrigins,
    adminCidrs: config.adminCidrs,
    ssmPrefix: config.ssmPrefix,
    webAclArn: certificate.webAclArn,
  };
  const relay = config.fleet
    ? new FleetRelayStack(app, name('Relay'), {
        ...relayProps,
        description:
          'llm-relay: relay fleet (Auto Scaling group, internal load balancer), CloudFront distribution, API DNS records (protected)',
        fleet: config.fleet,
      })
    : new RelayStack(app, name('Relay'), {
        ...relayProps,
        description:
          'llm-relay: relay host and data volume, CloudFront distribution, API DNS records (protected)',
        availabilityZone: config.availabilityZone,
        dataVolumeGiB: config.dataVolumeGiB,
        dataVolumeSnapshotId: config.dataVolumeSnapshotId,
        backupRetentionDays: config.backupRetentionDays,
        backupVault: stateful.backupVault,
        patchSchedule: config.patchSchedule,
        originType: config.originType,
        cloudfrontPrefixListId:
          'id' in config.cloudfrontPrefixList ? config.cloudfrontPrefixList.id : undefined,
        deployNonce: config.deployNonce,
      });

  const relayIds = relayIdParameterNames(config.ssmPrefix);
  const fleetIds = fleetIdParameterNames(config.ssmPrefix);
  const monitoring = new MonitoringStack(app, name('Monitoring'), {
    env,
    description: 'llm-relay: dashboard and alarms',
    ...(config.fleet
      ? {
          fleet: {
            autoScalingGroupNameParameterName: fleetIds.autoScalingGroupName,
            loadBalancerFullNameParameterName: fleetIds.loadBalancerFullName,
            targetGroupFullNameParameterName: fleetIds.targetGroupFullName,
            tableNames: fleetTableNames(config.fleet.tablePrefix),
            minHosts: config.fleet.minHosts,
          },
        }
      : {
          host: {
            instanceIdParameterName: relayIds.instanceId,
            backupVaultName: stateful.backupVault.backupVaultName,
          },
        }),
    distributionIdParameterName: relayIds.distributionId,
    relayLogGroupName: stateful.logGroupName,
    alarmEmail: config.alarmEmail,
    idleAlarmHours: config.idleAlarmHours,
    dashboardName: config.stackPrefix,
  });
  // Reads the parameters the Relay stack writes: deploy after it.
  monitoring.addStackDependency(relay, 'reads the SSM parameters the Relay stack writes');

  const githubDeploy = config.github.repository
    ? new GithubDeployStack(app, name('GithubDeploy'), {
        env,
        description: 'llm-relay: GitHub OIDC provider and the deploy role (deploy once by hand)',
        repository: config.github.repository,
        environment: config.github.environment,
      })
    : undefined;

  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
  }
  return { stateful, certificate, relay, monitoring, ...(githubDeploy && { githubDeploy }) };
}

async function main(): Promise<void> {
  const app = new App();
  const config = readDeployConfig((key) => app.node.tryGetContext(key));
  // Built on every synth, exactly as deployed: the asset hash follows the bundle's content.
  const relayBundleDir = await buildRelay();
  composeApp(app, config, { relayBundleDir });
  app.synth();
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    // A settings mistake is the operator's to fix: the message alone says what and how.
    if (!(error instanceof DeployConfigError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}
