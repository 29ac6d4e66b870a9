/**
 * Text of the files CloudFormation Init writes on the relay host. Kept apart from the construct so
 * the host layout reads in one place; values may be CDK tokens (resolved into Fn::Join).
 */
import { RELAY_NODE_ENV, RELAY_NODE_FLAGS } from '../../app/src/node-flags.ts';

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
  root: '/opt/llm-relay',
  /** One directory per bundle, named after its build id; `current` points at the live one. */
  releasesDir: '/opt/llm-relay/releases',
  current: '/opt/llm-relay/current',
  configDir: '/etc/llm-relay',
  configFile: '/etc/llm-relay/relay.config.json',
  envFile: '/etc/llm-relay/relay.env',
  fetchSecrets: '/usr/local/libexec/llm-relay/fetch-secrets',
  activateRelease: '/usr/local/libexec/llm-relay/activate-release',
  mountData: '/usr/local/libexec/llm-relay/mount-data',
  keysWrapper: '/usr/local/bin/llm-relay-keys',
  backupWrapper: '/usr/local/bin/llm-relay-backup',
  /** On its own EBS volume (see mountDataScript), not on the root volume. */
  dataDir: '/var/lib/llm-relay',
  logDir: '/var/log/llm-relay',
  logFile: '/var/log/llm-relay/relay.log',
  unit: '/etc/systemd/system/llm-relay.service',
  /** dnf's persistent override of the release version AL2023 pins to its AMI. */
  dnfReleasever: '/etc/dnf/vars/releasever',
} as const;

export const RELAY_SERVICE = 'llm-relay';
export const RELAY_USER = 'llm-relay';
/**
 * The unprivileged account ops sessions run as (the OpsSessionDocument's runAsDefaultUser): no
 * sudo, not in the relay's group, so it reads the journal and the relay log but neither the
 * provider keys in relay.env nor the database.
 */
export const OPS_USER = 'llm-relay-ops';

/** The bundle file a release directory must hold before it may go live. */
export const RELEASE_ENTRY = 'server.mjs';
/** Copy of relay.config.json a release went live with, in its directory (see activate-release). */
export const RELEASE_CONFIG = 'relay.config.json';

export interface RelayUnitOptions {
  readonly port: number;
  readonly region: string;
  /**
   * How long systemd waits after SIGTERM before SIGKILL. Must clearly exceed the relay's
   * shutdownGraceMs (plus the cluster primary's 5 s backstop), or SIGKILL cuts the usage rows
   * that the drain is about to write.
   */
  readonly stopTimeoutSeconds: number;
}

/** The relay's systemd unit: unprivileged user, secrets fetched as root just before each start. */
export function relayUnit(o: RelayUnitOptions): string {
  const nodeEnv = Object.entries(RELAY_NODE_ENV)
    .map(([name, value]) => `Environment=${name}=${value}`)
    .join('\n');
  return `[Unit]
Description=llm-relay (OpenAI-compatible LLM API relay)
Wants=network-online.target
After=network-online.target
# The database lives on its own volume: never start on an empty directory of the root volume.
RequiresMountsFor=${HOST_PATHS.dataDir}
# Never give up: by default five quick failures in 10 s (a fetch-secrets call that fails fast
# while the NAT gateway or SSM hiccups) leave a single host down until someone restarts it.
StartLimitIntervalSec=0

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
${nodeEnv}
# "+" runs the fetch as root: only root can read the 0600 file it writes.
ExecStartPre=+${HOST_PATHS.fetchSecrets}
# systemd reads this file before every command, ExecStartPre included, and the fetch above only
# writes it: "-" lets the first start (no file yet) reach the fetch, and ExecStart reads it fresh.
EnvironmentFile=-${HOST_PATHS.envFile}
# Through the link: activate-release switches it and restarts, and switches back if unhealthy.
ExecStart=${HOST_PATHS.node} ${RELAY_NODE_FLAGS.join(' ')} ${HOST_PATHS.current}/${RELEASE_ENTRY}
WorkingDirectory=${HOST_PATHS.dataDir}
StandardOutput=append:${HOST_PATHS.logFile}
StandardError=journal
Restart=always
RestartSec=2
TimeoutStopSec=${o.stopTimeoutSeconds}
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
exec runuser -u ${RELAY_USER} -- ${HOST_PATHS.node} ${HOST_PATHS.current}/keys.mjs "$@"
`;
}

/**
 * `sudo llm-relay-backup now | list | restore --latest`: the backup CLI as the service's user. A
 * restore stops the relay first (a database in use must not be replaced) and starts it again.
 */
export function backupWrapperScript(): string {
  return `#!/bin/bash
# Written by CloudFormation Init (llm-relay): backs up and restores the live database (see README).
set -euo pipefail
if [[ $EUID -ne 0 ]]; then exec sudo "$0" "$@"; fi
export RELAY_CONFIG='${HOST_PATHS.configFile}' RELAY_DATA_DIR='${HOST_PATHS.dataDir}'
cd '${HOST_PATHS.dataDir}'
if [[ "\${1:-}" == restore ]]; then
  systemctl stop ${RELAY_SERVICE}
  trap 'systemctl start ${RELAY_SERVICE}' EXIT
fi
runuser -u ${RELAY_USER} -- ${HOST_PATHS.node} ${HOST_PATHS.current}/backup.mjs "$@"
`;
}

export interface ActivateReleaseOptions {
  readonly port: number;
  /**
   * How long a restarted relay has to answer /healthz with its own build id.
   * @default 90
   */
  readonly healthTimeoutSeconds?: number;
  /**
   * Releases kept on disk, the live one included.
   * @default 3
   */
  readonly keepReleases?: number;
}

/**
 * `activate-release <build id> <fingerprint>`: points `current` at releases/<build id>, restarts
 * the relay and waits for /healthz to report that build. An unhealthy release is switched back to
 * the previous one (restarted and checked again) and the command fails, so cfn-init, and with it
 * the deploy's creation signal or cfn-hup's log, reports it. cfn-init has already overwritten the
 * shared relay.config.json by then, and the config schema is strict (older code refuses a newer
 * key), so each release keeps a copy of the config it went live with, and a rollback puts that
 * back too: also when only the config changed (the same release, a new fingerprint).
 * The fingerprint (the release plus the config and unit it runs with) makes a re-run with nothing
 * new a no-op: no restart. LLM_RELAY_ROOT, LLM_RELAY_CONFIG, LLM_RELAY_NODE, LLM_RELAY_PORT and
 * LLM_RELAY_HEALTH_TIMEOUT override the defaults (tests).
 */
export function activateReleaseScript(o: ActivateReleaseOptions): string {
  return `#!/bin/bash
# Written by CloudFormation Init (llm-relay): switches a release live, keeps it only if healthy.
set -euo pipefail
id="\${1:?usage: activate-release <build id> [fingerprint]}"
want="\${2:-$id}"
root="\${LLM_RELAY_ROOT:-${HOST_PATHS.root}}"
config="\${LLM_RELAY_CONFIG:-${HOST_PATHS.configFile}}"
node="\${LLM_RELAY_NODE:-${HOST_PATHS.node}}"
port="\${LLM_RELAY_PORT:-${o.port}}"
wait_s="\${LLM_RELAY_HEALTH_TIMEOUT:-${o.healthTimeoutSeconds ?? 90}}"
keep=${o.keepReleases ?? 3}
service=${RELAY_SERVICE}
current="$root/current"
state="$root/.activated"

if [[ ! "$id" =~ ^[0-9a-f]{16}$ ]]; then
  echo "llm-relay: '$id' is not a build id" >&2
  exit 2
fi
if [[ ! -f "$root/releases/$id/${RELEASE_ENTRY}" ]]; then
  echo "llm-relay: release $id is not installed under $root/releases" >&2
  exit 1
fi

live="$(readlink "$current" 2>/dev/null || true)"
if [[ "$live" == "releases/$id" && "$(cat "$state" 2>/dev/null || true)" == "$want" ]] &&
  systemctl is-active --quiet "$service"; then
  echo "llm-relay: release $id is already live"
  exit 0
fi
previous="\${live#releases/}"

# A new link renamed over the old one: the switch is atomic, never a missing "current".
point() { ln -sfn "releases/$1" "$current.next" && mv -Tf "$current.next" "$current"; }
# The relay answers /healthz with its build id once it serves (no key, no origin secret needed):
# its JSON parsed, not matched as text (spacing or field order must not matter).
build_is='process.exit(JSON.parse(process.argv[1]).build === process.argv[2] ? 0 : 1)'
healthy() {
  local deadline=$((SECONDS + wait_s)) body
  while ((SECONDS < deadline)); do
    if body="$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null)" &&
      "$node" -e "$build_is" "$body" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 1
  done
  return 1
}
restart() {
  systemctl daemon-reload
  # Type=exec: this fails at once when node cannot start; the health check decides either way.
  systemctl restart "$service" || true
}

point "$id"
restart
if healthy "$id"; then
  # The config this release is known to serve with: what a rollback to it restores.
  cp -p "$config" "$root/releases/$id/${RELEASE_CONFIG}"
  echo "$want" >"$state"
  # Keep the newest releases (and always the live and the previous one); drop the rest.
  find "$root/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\\n' | sort -rn |
    tail -n +$((keep + 1)) | while read -r _ name; do
    [[ "$name" == "$id" || "$name" == "$previous" ]] || rm -rf "\${root:?}/releases/$name"
  done
  echo "llm-relay: release $id is live"
  exit 0
fi

echo "llm-relay: release $id did not report healthy within \${wait_s}s" >&2
saved="$root/releases/$previous/${RELEASE_CONFIG}"
# Back to the previous release with its own config (the same release when only the config changed).
if [[ -n "$previous" && -f "$root/releases/$previous/${RELEASE_ENTRY}" ]] &&
  [[ "$previous" != "$id" || -f "$saved" ]]; then
  echo "llm-relay: rolling back to release $previous" >&2
  if [[ -f "$saved" ]]; then
    cp -p "$saved" "$config"
    echo "llm-relay: restored the config release $previous was live with" >&2
  fi
  point "$previous"
  restart
  if healthy "$previous"; then
    echo "llm-relay: release $previous is live again" >&2
  else
    echo "llm-relay: release $previous is not healthy either" >&2
  fi
fi
exit 1
`;
}

export interface MountDataOptions {
  /** EBS volume id (a token is fine): Nitro hosts name the device after it. */
  readonly volumeId: string;
  /** Device name of its attachment (/dev/sdf, /dev/sdg…): what a Xen host calls it. */
  readonly device: string;
}

/**
 * Finds the data volume, makes its file system on first use, mounts it on the data directory
 * (by UUID, nofail, in fstab) and grows the file system to the volume's size. A host that kept
 * its database on the root volume (before this volume existed) has it copied over first.
 * Runs at every cfn-init: each step is a no-op once done.
 */
export function mountDataScript(o: MountDataOptions): string {
  return `#!/bin/bash
# Written by CloudFormation Init (llm-relay): mounts the data volume on ${HOST_PATHS.dataDir}.
set -euo pipefail
volume='${o.volumeId}'
device='${o.device}'
mnt='${HOST_PATHS.dataDir}'
dev=''
# Nitro: NVMe, named after the volume id without its dash; Xen: the attachment's device name.
for _ in $(seq 1 90); do
  for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_\${volume/-/}" "$device" "\${device/sd/xvd}"; do
    if [[ -b "$candidate" ]]; then
      dev="$(readlink -f "$candidate")"
      break 2
    fi
  done
  sleep 2
done
if [[ -z "$dev" ]]; then
  echo "llm-relay: data volume $volume is not attached" >&2
  exit 1
fi
if ! blkid "$dev" >/dev/null 2>&1; then
  mkfs.xfs -L llm-relay-data "$dev"
fi
uuid="$(blkid -s UUID -o value "$dev")"
# A replaced volume (dataVolumeSnapshotId: a new volume on another device): let go of the old one
# first, should it still be mounted (the restore runbook unmounts it before the deploy, as
# CloudFormation detaches it in the same instance update that attaches the new one).
if mountpoint -q "$mnt" && [[ "$(readlink -f "$(findmnt -n -o SOURCE "$mnt")")" != "$dev" ]]; then
  echo "llm-relay: $mnt holds another volume; switching to $volume"
  systemctl stop ${RELAY_SERVICE} 2>/dev/null || true
  umount "$mnt"
  sed -i "\\|[[:space:]]$mnt[[:space:]]|d" /etc/fstab
fi
if ! mountpoint -q "$mnt"; then
  mkdir -p "$mnt"
  fresh="$(mktemp -d)"
  mount "$dev" "$fresh"
  if [[ -z "$(ls -A "$fresh")" && -n "$(ls -A "$mnt" 2>/dev/null)" ]]; then
    echo "llm-relay: moving the existing data in $mnt onto the data volume"
    systemctl stop ${RELAY_SERVICE} 2>/dev/null || true
    cp -a "$mnt/." "$fresh/"
  fi
  umount "$fresh"
  rmdir "$fresh"
  # A restored volume has another UUID: its line replaces the old volume's (one line per mount).
  if ! grep -q "^UUID=$uuid[[:space:]]" /etc/fstab; then
    sed -i "\\|[[:space:]]$mnt[[:space:]]|d" /etc/fstab
    echo "UUID=$uuid $mnt xfs defaults,nofail,noatime 0 2" >>/etc/fstab
  fi
  systemctl daemon-reload
  # The device itself, not the fstab UUID: a volume restored from a snapshot of this one has the
  # same file system UUID, and the old volume may still be attached while this runs.
  mount "$dev" "$mnt"
fi
# A larger volume (dataVolumeGiB raised) takes effect here; a no-op otherwise.
xfs_growfs "$mnt" >/dev/null
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
/** The data volume's mount (the SQLite database), reported by the agent like the root disk. */
export const DATA_DISK_DIMENSIONS = { path: HOST_PATHS.dataDir, fstype: 'xfs' } as const;

export interface AgentConfigOptions {
  readonly logGroupName: string;
  /**
   * A fleet host: metrics also carry the Auto Scaling group's name (the dashboard finds every
   * host of the group by it), CPU comes from the agent too (EC2's own metric has no
   * group-and-instance dimension pair), and there is no data volume.
   * @default false
   */
  readonly fleet?: boolean;
}

/**
 * CloudWatch agent config: memory, root-disk and data-volume usage every 60 s with InstanceId
 * appended, and the relay's JSON log shipped to its log group. CloudWatch Logs extracts the Embedded Metric Format
 * records from those lines on its own; no EMF listener is needed on the host.
 */
export function cloudWatchAgentConfig(o: AgentConfigOptions): Record<string, unknown> {
  return {
    agent: { metrics_collection_interval: 60, run_as_user: 'root' },
    metrics: {
      namespace: 'CWAgent',
      append_dimensions: {
        InstanceId: '${aws:InstanceId}',
        ...(o.fleet && { AutoScalingGroupName: '${aws:AutoScalingGroupName}' }),
      },
      // A fleet's alarms cannot name instances that come and go: each host also reports under
      // the group's name alone, whose Maximum is the fullest root disk of any host.
      ...(o.fleet && { aggregation_dimensions: [['AutoScalingGroupName']] }),
      metrics_collected: {
        ...(o.fleet && {
          cpu: { measurement: ['usage_active'], totalcpu: true, metrics_collection_interval: 60 },
        }),
        mem: { measurement: ['mem_used_percent'], metrics_collection_interval: 60 },
        disk: {
          measurement: ['used_percent'],
          resources: o.fleet
            ? [ROOT_DISK_DIMENSIONS.path]
            : [ROOT_DISK_DIMENSIONS.path, DATA_DISK_DIMENSIONS.path],
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
