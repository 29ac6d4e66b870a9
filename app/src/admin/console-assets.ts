export interface ConsoleFile {
  /** Where it is served, e.g. /admin/assets/main-3FQ2K4.js. */
  readonly path: string;
  readonly type: string;
  readonly body: string;
}

export interface ConsoleBundle {
  readonly html: string;
  readonly files: readonly ConsoleFile[];
}

/**
 * The built console. From source, esbuild builds it on first use; in the shipped relay bundle,
 * scripts/build-relay.ts replaces this module with one holding the files already built, so the
 * host needs neither esbuild nor the console's sources.
 */
export async function loadConsoleAssets(): Promise<ConsoleBundle> {
  const { buildConsole } = await import('./console-build.ts');
  return buildConsole();
}
