import { join, resolve } from 'node:path';
import type { ConsoleBundle, ConsoleFile } from './console-assets.ts';

/** The repository root, from app/src/admin. */
const ROOT = resolve(import.meta.dirname, '../../..');
export const CONSOLE_ENTRY = join(ROOT, 'app/console/main.tsx');
export const ASSET_PREFIX = '/admin/assets/';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function page(script: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>llm-relay admin</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${style}">
<script type="module" src="${script}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
}

/**
 * Builds the console (Preact + uPlot) with esbuild into memory: one hashed script, one hashed
 * stylesheet and the page that loads them. The relay bundle runs this once at build time
 * (scripts/build-relay.ts); `npm start` from source runs it at the first request to /admin.
 */
export async function buildConsole(): Promise<ConsoleBundle> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [CONSOLE_ENTRY],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome111', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    write: false,
    outdir: '/out',
    entryNames: '[name]-[hash]',
    legalComments: 'none',
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  const files: ConsoleFile[] = result.outputFiles.map((f) => {
    const ext = f.path.slice(f.path.lastIndexOf('.'));
    return {
      path: ASSET_PREFIX + f.path.slice('/out/'.length),
      type: TYPES[ext] ?? 'application/octet-stream',
      body: f.text,
    };
  });
  const script = files.find((f) => f.path.endsWith('.js'));
  const style = files.find((f) => f.path.endsWith('.css'));
  if (!script || !style) throw new Error('the console build produced no script or stylesheet');
  return { html: page(script.path, style.path), files };
}
