import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { composeApp } from '../../bin/relay.ts';
import type { RelayStacks } from '../../bin/relay.ts';
import { readDeployConfig } from '../../lib/config.ts';

/** The defaults `npx cdk synth` uses: the context block of cdk.json. */
export const CDK_JSON_CONTEXT: Readonly<Record<string, unknown>> = (
  JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/**
 * A directory standing in for dist/relay as an asset: the infra tests look at how the bundle is
 * shipped, not at what it does (bundle.test.ts builds and runs the real one).
 */
export function fakeBundle(marker = 'v1'): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bundle-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'server.mjs'), `// server ${marker}\n`);
  writeFileSync(join(dir, 'keys.mjs'), `// keys ${marker}\n`);
  writeFileSync(join(dir, 'backup.mjs'), `// backup ${marker}\n`);
  return dir;
}

export interface SynthOptions {
  readonly context?: Readonly<Record<string, unknown>>;
  readonly bundleDir?: string;
  readonly nag?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface Synthesized {
  readonly app: App;
  readonly stacks: RelayStacks;
  readonly stateful: Template;
  readonly certificate: Template;
  readonly relay: Template;
  readonly monitoring: Template;
}

/** Composes the app exactly as bin/relay.ts does, with cdk.json defaults plus `context`. */
export function synth(options: SynthOptions = {}): Synthesized {
  const context = { ...CDK_JSON_CONTEXT, ...options.context };
  const app = new App({
    context,
    outdir: mkdtempSync(join(tmpdir(), 'cdk-out-')),
  });
  const config = readDeployConfig((key) => app.node.tryGetContext(key), options.env ?? {});
  const stacks = composeApp(app, config, {
    relayBundleDir: options.bundleDir ?? fakeBundle(),
    nag: options.nag ?? false,
  });
  return {
    app,
    stacks,
    stateful: Template.fromStack(stacks.stateful),
    certificate: Template.fromStack(stacks.certificate),
    relay: Template.fromStack(stacks.relay),
    monitoring: Template.fromStack(stacks.monitoring),
  };
}

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown> } & Record<string, unknown>
>;

/** The only resource of `type`; fails loudly when there are none or several. */
export function onlyResource(
  template: Template,
  type: string,
): { logicalId: string; resource: Resources[string] } {
  const found = Object.entries(template.findResources(type) as Resources);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [logicalId, resource] = found[0]!;
  return { logicalId, resource };
}

/** The only resource of `type` whose logical id starts with `prefix` (construct path order). */
export function resourceNamed(
  template: Template,
  type: string,
  prefix: string,
): { logicalId: string; resource: Resources[string] } {
  const found = Object.entries(template.findResources(type) as Resources).filter(([id]) =>
    id.startsWith(prefix),
  );
  if (found.length !== 1) throw new Error(`expected one ${type} ${prefix}*, found ${found.length}`);
  const [logicalId, resource] = found[0]!;
  return { logicalId, resource };
}

/**
 * Flattens an Fn::Join (the form CDK gives strings with tokens) into text, with references shown
 * as <Ref> / <Logical.Attr> (and other stacks' values as <import:…> or <output:Stack@region:…>) so assertions can read file contents.
 */
export function joined(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v['Fn::Join'])) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(joined).join(sep);
    }
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::ImportValue' in v) return `<import:${joined(v['Fn::ImportValue'])}>`;
    if ('Fn::GetStackOutput' in v) {
      const o = v['Fn::GetStackOutput'] as Record<string, unknown>;
      const region = typeof o.Region === 'string' ? `@${o.Region}` : '';
      return `<output:${joined(o.StackName)}${region}:${joined(o.OutputName)}>`;
    }
    if (typeof v['Fn::Sub'] === 'string') return v['Fn::Sub'];
  }
  return JSON.stringify(value);
}

/**
 * Template JSON with everything that changes with the bundle's bytes or the asset hashing
 * replaced, so snapshots change only when the infrastructure does.
 */
export function normalizedTemplate(template: Template): unknown {
  const text = JSON.stringify(template.toJSON())
    .replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '[HASH]$1')
    // The bundle's build id (release directory, activation, output) and the activation fingerprint.
    .replace(/\b[0-9a-f]{16}\b/g, '[BUILD]')
    .replace(/cdk-out-[A-Za-z0-9]+/g, 'cdk-out-[TMP]');
  return JSON.parse(text);
}
