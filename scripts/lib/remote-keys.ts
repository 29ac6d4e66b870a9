/** Single-quotes a word for POSIX shells. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface RemoteKeysOptions {
  /** The relay's systemd unit. */
  service: string;
  /** Where the bundle lives on the host (keys.mjs beside server.mjs). */
  appDir: string;
}

/**
 * A shell script for AWS-RunShellScript that runs the keys CLI exactly as the service runs:
 * same user, same working directory, same Node binary and the same environment (read from
 * the running service's /proc entry, so RELAY_CONFIG, RELAY_DATA_DIR and the secrets loaded
 * from its EnvironmentFile all match without this script knowing where they come from).
 */
export function remoteKeysScript(args: string[], options: RemoteKeysOptions): string {
  // bash for mapfile: /proc/<pid>/environ is NUL-separated. Every step execs, so the keys
  // CLI's own exit code is the command's exit code.
  const inner = [
    'u=$1; node=$2; environ=$3; shift 3',
    'mapfile -d "" envs < "$environ"',
    `exec runuser -u "\${u:-root}" -- env -i "\${envs[@]}" "$node" ${shellQuote(`${options.appDir}/keys.mjs`)} "$@"`,
  ].join('; ');
  return [
    'set -eu',
    `unit=${shellQuote(options.service)}`,
    'pid=$(systemctl show --property=MainPID --value "$unit")',
    'if [ -z "$pid" ] || [ "$pid" = 0 ]; then',
    '  echo "$unit is not running; the keys CLI needs its environment, start it first" >&2',
    '  exit 3',
    'fi',
    'user=$(systemctl show --property=User --value "$unit")',
    'node=$(readlink -f "/proc/$pid/exe")',
    'cd "$(readlink -f "/proc/$pid/cwd")"',
    `exec bash --norc --noprofile -c ${shellQuote(inner)} keys "$user" "$node" "/proc/$pid/environ" ${args
      .map(shellQuote)
      .join(' ')}`.trimEnd(),
  ].join('\n');
}
