import { realpathSync } from 'node:fs';

/**
 * Whether `filename` (a module's import.meta.filename) is the script node was started with.
 * Node resolves the entry point through symlinks and argv[1] keeps the link, so comparing the two
 * as strings fails for a script started through one, like the host's releases/current link.
 */
export function isMainModule(filename: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === filename;
  } catch {
    return false;
  }
}
