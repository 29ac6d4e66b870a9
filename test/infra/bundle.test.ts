import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRelay, REPO_ROOT, RELAY_ENTRY_POINTS } from '../../scripts/build-relay.ts';
import { RELAY_NODE_FLAGS } from '../../app/src/node-flags.ts';
import { bundleBuildId } from '../../app/src/build-info.ts';
import { freePort } from '../fixtures/relay-process.ts';

// The relay's entry points arrive with the app branch; until then there is nothing to bundle.
const relayPresent = Object.values(RELAY_ENTRY_POINTS).every((p) => existsSync(join(REPO_ROOT, p)));

/** A loopback OpenAI-compatible upstream that answers every chat request with "pong". */
async function fakeUpstream(): Promise<{ server: Server; url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      const model = (JSON.parse(body || '{}') as { model?: string }).model ?? 'unknown';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-test',
          object: 'chat.completion',
          created: 1_700_000_000,
          model,
          choices: [
            { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/v1`, seen };
}

async function waitForHealth(base: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`relay exited early:\n${output()}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`relay did not become healthy:\n${output()}`);
}

describe.skipIf(!relayPresent)('bundled relay (as the host runs it)', () => {
  let outdir: string;
  let child: ChildProcess;
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  let base: string;
  let output = '';
  const originSecret = 'test-origin-secret-0123456789';

  beforeAll(async () => {
    outdir = await buildRelay({ outdir: mkdtempSync(join(tmpdir(), 'relay-dist-')) });
    upstream = await fakeUpstream();
    const work = mkdtempSync(join(tmpdir(), 'relay-host-'));
    const configFile = join(work, 'relay.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        server: {
          originSecret: 'env:RELAY_ORIGIN_SECRET',
          publicBaseUrl: 'https://api.example.com',
        },
        channels: [
          {
            name: 'loopback',
            type: 'openai',
            baseUrl: upstream.url,
            apiKey: 'env:LOOPBACK_API_KEY',
            models: ['test-model'],
          },
        ],
        keys: [{ name: 'tester', key: 'sk-tester-0123456789abcdef', models: ['*'] }],
        images: { store: 'local' },
      }),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // Same command line as the systemd unit: node <flags> <bundle>/server.mjs, nothing else on disk.
    child = spawn(process.execPath, [...RELAY_NODE_FLAGS, join(outdir, 'server.mjs')], {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        RELAY_CONFIG: configFile,
        RELAY_DATA_DIR: join(work, 'data'),
        RELAY_ORIGIN_SECRET: originSecret,
        LOOPBACK_API_KEY: 'sk-upstream-test',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitForHealth(base, child, () => output);
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    await new Promise((r) => upstream?.server.close(r));
  });

  it('is server.mjs, keys.mjs, backup.mjs, their lazily read chunks and its build id, with no native addons', () => {
    const files = readdirSync(outdir).sort();
    const entries = files.filter((f) => !/^[\w-]+-[A-Z0-9]{8}\.mjs$/.test(f));
    expect(entries).toEqual(['backup.mjs', 'build-id', 'keys.mjs', 'server.mjs']);
    // Code that is imported lazily (the AWS SDKs, the admin console) is in chunks of its own.
    expect(files.length).toBeGreaterThan(entries.length);
  });

  // node-flags.ts runs the relay without AsyncLocalStorage's context frames: a library that
  // started an AsyncLocalStorage would turn on promise hooks for the whole process instead.
  // The AWS SDK's Lambda store makes one only under Lambda (AWS_LAMBDA_MAX_CONCURRENCY).
  it('starts no AsyncLocalStorage or async hook but the AWS SDK Lambda store', () => {
    const uses: string[] = [];
    for (const file of readdirSync(outdir).filter((f) => f.endsWith('.mjs'))) {
      const text = readFileSync(join(outdir, file), 'utf8');
      for (const m of text.matchAll(/AsyncLocalStorage|createHook\(|enterWith\(/g))
        uses.push(`${file}: ${text.slice(Math.max(0, m.index - 200), m.index + 40)}`);
    }
    expect(uses.filter((use) => !use.includes('InvokeStoreMulti'))).toEqual([]);
  });

  it('names itself by content: the build id the CDK app names the release after', () => {
    const id = readFileSync(join(outdir, 'build-id'), 'utf8').trim();
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(bundleBuildId(outdir)).toBe(id);
  });

  it('reports that build id on /healthz, without a key or the origin secret', async () => {
    const res = await fetch(`${base}/healthz`);
    const body = (await res.json()) as { status: string; build?: string };
    expect(body.build).toBe(readFileSync(join(outdir, 'build-id'), 'utf8').trim());
  });

  it('runs with node alone and answers a chat request through the upstream', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk-tester-0123456789abcdef',
        'content-type': 'application/json',
        'x-origin-secret': originSecret,
      },
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'ping' }] }),
    });
    const text = await res.text();
    expect(res.status, `${text}\n${output}`).toBe(200);
    const body = JSON.parse(text) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe('pong');
    expect(upstream.seen.some((line) => line.includes('Bearer sk-upstream-test'))).toBe(true);
  });

  it('serves the admin console from the bundle itself: no esbuild, no console sources on the host', async () => {
    const headers = { 'x-origin-secret': originSecret };
    const page = await fetch(`${base}/admin`, { headers });
    const html = await page.text();
    expect(page.status, html).toBe(200);
    const script = /src="(\/admin\/assets\/main-\w+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${base}${script}`, { headers });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect((await js.text()).length).toBeGreaterThan(10_000);
  });

  it('rejects requests without the origin secret with 403', async () => {
    const res = await fetch(`${base}/v1/models`, {
      headers: { authorization: 'Bearer sk-tester-0123456789abcdef' },
    });
    expect(res.status).toBe(403);
  });
});
