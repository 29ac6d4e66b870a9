/**
 * Text of the files CloudFormation Init writes on the relay host. Kept apart from the construct so
 * the host layout reads in one place; values may be CDK tokens (resolved into Fn::Join).
 */
import { RELAY_NODE_FLAGS } from '../../app/src/node-flags.ts';

/**
 * Node.js major the host runs: the one the project pins (package.json devDependency `node`).
 * AL2023 ships it as the namespaced package `nodejs<major>` whose executable is
 * `/usr/bin/node-<major>`; plain `node` is an `alternatives` link that may point elsewhere.
 */
export const NODE_MAJOR = 24;
export const NODE_PACKAGE = `nodejs${NODE_MAJOR}`;

/** Where things live on the host. */
export const HOST_PATHS = {
  /** Namespaced executable of AL2023's nodejs24 package: stays Node 24 whatever `node` points to. */
  node: `/usr/bin/node-${NODE_MAJOR}`,
  appDir: '/opt/llm-relay/app',
  configDir: '/etc/llm-relay',
  configFile: '/etc/llm-relay/relay.config.json',
  envFile: '/etc/llm-relay/relay.env',
  fetchSecrets: '/usr/local/libexec/llm-relay/fetch-secrets',
  keysWrapper: '/usr/local/bin/llm-relay-keys',
  dataDir: '/var/lib/llm-relay',
  logDir: '/var/log/llm-relay',
  logFile: '/var/log/llm-relay/relay.log',
  unit: '/etc/systemd/system/llm-relay.service',
} as const;

export const RELAY_SERVICE = 'llm-relay';
export const RELAY_USER = 'llm-relay';

export interface RelayUnitOptions {
  readonly port: number;
  readonly region: string;
}

/** The relay's systemd unit: unprivileged user, secrets fetched as root just before each start. */
export function relayUnit(o: RelayUnitOptions): string {
  return `[Unit]
Description=llm-relay (OpenAI-compatible LLM API relay)
Wants=network-online.target
After=network-online.target

[Service]
# exec, not simple: "systemctl start" fails when the executable cannot be started, so cfn-init (and
# with it the creation signal) fails instead of reporting a relay that only crash-loops.
Type=exec
User=${RELAY_USER}
Group=${RELAY_USER}
Environment=NODE_ENV=production
Environment=PORT=${o.port}
Environment=RELAY_CONFIG=${HOST_PATHS.configFile}
Environment=RELAY_DATA_DIR=${HOST_PATHS.dataDir}
Environment=AWS_REGION=${o.region}
# "+" runs the fetch as root: only root can read the 0600 file it writes, and systemd reads it
# for the service after the fetch, at every (re)start.
ExecStartPre=+${HOST_PATHS.fetchSecrets}
EnvironmentFile=${HOST_PATHS.envFile}
ExecStart=${HOST_PATHS.node} ${RELAY_NODE_FLAGS.join(' ')} ${HOST_PATHS.appDir}/server.mjs
WorkingDirectory=${HOST_PATHS.dataDir}
StandardOutput=append:${HOST_PATHS.logFile}
StandardError=journal
Restart=always
RestartSec=2
TimeoutStopSec=30
StateDirectory=llm-relay
StateDirectoryMode=0750
LogsDirectory=llm-relay
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectControlGroups=true
RestrictSUIDSGID=true
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

export interface FetchSecretsOptions {
  readonly region: string;
  readonly originSecretArn: string;
  /** SSM path holding one SecureString per environment variable, e.g. /llm-relay/env/. */
  readonly envParameterPath: string;
}

/**
 * Writes the relay's environment file from Secrets Manager and SSM Parameter Store. Runs before
 * every start so a `npm run secrets` plus a restart picks up new provider keys.
 */
export function fetchSecretsScript(o: FetchSecretsOptions): string {
  return `#!/bin/bash
# Written by CloudFormation Init (llm-relay). Prints no secret values.
set -euo pipefail
umask 077
out='${HOST_PATHS.envFile}'
tmp="$(mktemp '${HOST_PATHS.configDir}/.relay.env.XXXXXX')"
trap 'rm -f "$tmp"' EXIT

origin_secret="$(aws secretsmanager get-secret-value --region '${o.region}' \\
  --secret-id '${o.originSecretArn}' --query SecretString --output text)"
printf 'RELAY_ORIGIN_SECRET=%s\\n' "$origin_secret" >>"$tmp"

aws ssm get-parameters-by-path --region '${o.region}' --path '${o.envParameterPath}' \\
  --recursive --with-decryption --query 'Parameters[].[Name,Value]' --output text |
  while IFS=$'\\t' read -r name value; do
    var="\${name##*/}"
    if [[ ! "$var" =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
      echo "llm-relay: skipping parameter $name (not an environment variable name)" >&2
      continue
    fi
    printf '%s=%s\\n' "$var" "$value" >>"$tmp"
  done

chmod 0600 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
`;
}

/** `sudo llm-relay-keys create --name alice`: the keys CLI with the service's user and env. */
export function keysWrapperScript(): string {
  return `#!/bin/bash
# Written by CloudFormation Init (llm-relay): runs the keys CLI against the live data directory.
set -euo pipefail
if [[ $EUID -ne 0 ]]; then exec sudo "$0" "$@"; fi
${HOST_PATHS.fetchSecrets}
while IFS= read -r line; do
  [[ -n "$line" ]] && export "$line"
done <'${HOST_PATHS.envFile}'
export RELAY_CONFIG='${HOST_PATHS.configFile}' RELAY_DATA_DIR='${HOST_PATHS.dataDir}'
cd '${HOST_PATHS.dataDir}'
exec runuser -u ${RELAY_USER} -- ${HOST_PATHS.node} ${HOST_PATHS.appDir}/keys.mjs "$@"
`;
}

export function logrotateConfig(): string {
  return `${HOST_PATHS.logDir}/*.log {
  daily
  rotate 7
  maxsize 100M
  missingok
  notifempty
  compress
  delaycompress
  # systemd holds the file open in append mode; truncating in place is safe with O_APPEND.
  copytruncate
}
`;
}

export interface CfnHupOptions {
  readonly stackName: string;
  readonly region: string;
  readonly logicalId: string;
  readonly configSets: readonly string[];
}

export function cfnHupConfig(o: CfnHupOptions): string {
  // interval is in minutes; the default of 15 makes a config change feel lost.
  return `[main]
stack=${o.stackName}
region=${o.region}
interval=1
verbose=true
`;
}

/**
 * Fails cfn-init (and so the instance's creation signal) when the runtime is not the pinned major,
 * e.g. if a package named nodejs<major> ever stops providing /usr/bin/node-<major>.
 */
export function nodeVersionCheck(): string {
  return `v="$(${HOST_PATHS.node} -p 'process.versions.node.split(".")[0]')" && test "$v" = ${NODE_MAJOR} || { echo "llm-relay: ${HOST_PATHS.node} is not Node.js ${NODE_MAJOR} (got: \${v:-none})" >&2; exit 1; }`;
}

/** Re-runs cfn-init whenever the instance's Init metadata changes: the in-place update path. */
export function cfnAutoReloaderHook(o: CfnHupOptions): string {
  return `[cfn-auto-reloader-hook]
triggers=post.update
path=Resources.${o.logicalId}.Metadata.AWS::CloudFormation::Init
action=/opt/aws/bin/cfn-init -v --stack ${o.stackName} --resource ${o.logicalId} --configsets ${o.configSets.join(',')} --region ${o.region}
runas=root
`;
}

/** AWS's documented cfn-hup unit, written here so the host does not depend on the package shipping one. */
export function cfnHupUnit(): string {
  return `[Unit]
Description=cfn-hup daemon (applies CloudFormation Init changes in place)

[Service]
Type=simple
ExecStart=/opt/aws/bin/cfn-hup
Restart=always

[Install]
WantedBy=multi-user.target
`;
}

/** Dimensions the agent publishes for the root file system; the dashboard must use exactly these. */
export const ROOT_DISK_DIMENSIONS = { path: '/', fstype: 'xfs' } as const;

export interface AgentConfigOptions {
  readonly logGroupName: string;
}

/**
 * CloudWatch agent config: memory and root-disk usage every 60 s with InstanceId appended, and the
 * relay's JSON log shipped to its log group. CloudWatch Logs extracts the Embedded Metric Format
 * records from those lines on its own; no EMF listener is needed on the host.
 */
export function cloudWatchAgentConfig(o: AgentConfigOptions): Record<string, unknown> {
  return {
    agent: { metrics_collection_interval: 60, run_as_user: 'root' },
    metrics: {
      namespace: 'CWAgent',
      append_dimensions: { InstanceId: '${aws:InstanceId}' },
      metrics_collected: {
        mem: { measurement: ['mem_used_percent'], metrics_collection_interval: 60 },
        disk: {
          measurement: ['used_percent'],
          resources: [ROOT_DISK_DIMENSIONS.path],
          ignore_file_system_types: ['sysfs', 'devtmpfs', 'tmpfs', 'overlay'],
          // The device name (nvme0n1p1 vs xvda1) differs by instance type; dropping it keeps the
          // dimensions InstanceId + path + fstype stable for the dashboard and the alarm.
          drop_device: true,
          metrics_collection_interval: 60,
        },
      },
    },
    logs: {
      logs_collected: {
        files: {
          collect_list: [
            {
              file_path: `${HOST_PATHS.logDir}/relay.log`,
              log_group_name: o.logGroupName,
              log_stream_name: '{instance_id}',
              timezone: 'UTC',
            },
          ],
        },
      },
    },
  };
}
