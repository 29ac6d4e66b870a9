import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** File the build writes next to server.mjs: the bundle's content hash, its release name. */
export const BUILD_ID_FILE = 'build-id';

/**
 * Hash of every file in a bundle directory but the id file itself, in name order. The build
 * writes it, the CDK app names the host's release directory after it, and /healthz reports it,
 * so a deploy can check that the relay answering is the one it shipped.
 */
export function bundleBuildId(dir: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).sort()) {
    if (name === BUILD_ID_FILE) continue;
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(dir, name)))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** The id of the bundle this module was bundled into; undefined when running from source. */
export function readBuildId(dir: string = import.meta.dirname): string | undefined {
  try {
    return readFileSync(join(dir, BUILD_ID_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
