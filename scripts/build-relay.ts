import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUILD_ID_FILE, bundleBuildId } from '../app/src/build-info.ts';
import type { Plugin } from 'esbuild';
import { buildConsole } from '../app/src/admin/console-build.ts';

/** Repository root, whatever directory the script is started from. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What the host runs: `node server.mjs`, `node keys.mjs …` and `node backup.mjs …`. */
export const RELAY_ENTRY_POINTS: Readonly<Record<string, string>> = {
  server: 'app/src/server.ts',
  keys: 'app/src/cli/keys.ts',
  backup: 'app/src/cli/backup.ts',
};

export const DEFAULT_RELAY_OUTDIR = join(REPO_ROOT, 'dist', 'relay');

export interface BuildRelayOptions {
  /**
   * Where `server.mjs` and `keys.mjs` are written; the directory is emptied first so a stale
   * file never ships (the CDK asset hashes the whole directory).
   * @default dist/relay
   */
  readonly outdir?: string;
  /**
   * Repository whose app/src is bundled.
   * @default the repository this script lives in
   */
  readonly root?: string;
}

/**
 * The admin console, built now and inlined: the module that would build it at run time
 * (app/src/admin/console-assets.ts) is replaced by one that holds the built files.
 */
async function consolePlugin(): Promise<Plugin> {
  const bundle = await buildConsole();
  return {
    name: 'admin-console',
    setup(b) {
      b.onLoad({ filter: /[\\/]admin[\\/]console-assets\.ts$/ }, () => ({
        contents: `const bundle = ${JSON.stringify(bundle)};\nexport async function loadConsoleAssets() { return bundle; }\n`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Bundles the relay into self-contained ES modules for the host, plus the `build-id` file. Everything, including
 * node_modules, is inlined: the host gets Node.js 24 and these files, no `npm install`, and there
 * is no native addon (SQLite is node:sqlite), so one bundle serves x86_64 and arm64 alike.
 */
export async function buildRelay(options: BuildRelayOptions = {}): Promise<string> {
  const root = options.root ?? REPO_ROOT;
  const outdir = resolve(options.outdir ?? DEFAULT_RELAY_OUTDIR);
  const entryPoints = Object.entries(RELAY_ENTRY_POINTS).map(([out, src]) => ({
    out,
    in: join(root, src),
  }));
  const missing = entryPoints.filter((e) => !existsSync(e.in)).map((e) => e.in);
  if (missing.length > 0) {
    throw new Error(`Cannot bundle the relay: missing entry point(s) ${missing.join(', ')}`);
  }

  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Bundled CommonJS dependencies still call require() for Node built-ins; ESM has none.
    banner: {
      js: "import { createRequire as __relayCreateRequire } from 'node:module';\nconst require = __relayCreateRequire(import.meta.url);",
    },
    // What is imported lazily (the AWS SDKs, the admin console, DynamoDB, backups) goes into
    // chunk files beside the entry points, read only when first used: one file held all of it,
    // and V8 read and pre-parsed its 3.7 MB at every start (~10 MiB more RSS after start,
    // measured Dec 2026). The host ships the whole directory, chunks included.
    splitting: true,
    // Whitespace and syntax only: identifiers stay, so stack traces in the host's logs still
    // name real functions. Halves the bundle (4 MB to 2 MB), which V8 keeps in memory as
    // source text and parses at every start.
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: false,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: root,
    plugins: [await consolePlugin()],
  });
  // The bundle's own name: the host's release directory and what /healthz reports.
  await writeFile(join(outdir, BUILD_ID_FILE), `${bundleBuildId(outdir)}\n`);
  return outdir;
}

if (import.meta.main) {
  const outdir = await buildRelay({ outdir: process.argv[2] });
  console.log(`relay bundle written to ${outdir}`);
}
