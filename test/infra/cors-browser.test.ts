/**
 * A browser client through the edge: a page on another origin calls the relay with the official
 * openai SDK (JSON and a stream) in Debian's Chromium, behind a stand-in for the synthesized
 * distribution's /v1/* behavior (its response headers policy applied as CloudFront applies it),
 * and reads the headers a client needs: x-request-id, x-relay-overhead-ms, the x-ratelimit-*
 * headers and retry-after.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsOfBehavior, startEdge } from '../fixtures/cloudfront-edge.ts';
import type { CorsConfig, Edge } from '../fixtures/cloudfront-edge.ts';
import { launchChromium } from '../fixtures/chromium.ts';
import { startFaultUpstream } from '../fixtures/fault-upstream.ts';
import type { FaultUpstream } from '../fixtures/fault-upstream.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';
import { synth } from './helpers.ts';

const KEY = 'sk-browser-client-0123456789abcdef';
const LIMITED_KEY = 'sk-browser-limited-0123456789abcd';

/** The CORS override the distribution used to put on /v1/* (the bug): kept to show it fails. */
const OLD_OVERRIDE: CorsConfig = {
  AccessControlAllowOrigins: { Items: ['*'] },
  AccessControlAllowHeaders: { Items: ['*'] },
  AccessControlAllowMethods: { Items: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'] },
  AccessControlExposeHeaders: { Items: ['x-request-id'] },
  AccessControlAllowCredentials: false,
  AccessControlMaxAgeSec: 600,
  OriginOverride: true,
};

interface PageResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly json?: { content: string | null; headers: Record<string, string | null> };
  readonly stream?: string;
  readonly limited?: { status: number; headers: Record<string, string | null> };
}

let upstream: FaultUpstream;
let relay: TestRelay;
let page: Server;
let pageUrl: string;
let browser: Browser;
/** What the synthesized distribution (cdk.json defaults) does to CORS on /v1/*. */
let apiCors: CorsConfig | undefined;

beforeAll(async () => {
  apiCors = corsOfBehavior(synth().relay, '/v1/*');
  upstream = await startFaultUpstream();
  relay = await startTestRelay(
    {
      channels: [{ name: 'up', baseUrl: upstream.baseUrl, apiKey: 'env:UP_KEY', models: ['m'] }],
      keys: [
        { name: 'browser', key: KEY, rpm: 100 },
        { name: 'limited', key: LIMITED_KEY, rpm: 1 },
      ],
    },
    { UP_KEY: 'sk-upstream' },
  );
  // The official SDK, bundled for the browser as a web app would ship it.
  const sdk = await build({
    stdin: {
      contents: "import OpenAI from 'openai'; globalThis.OpenAI = OpenAI;",
      resolveDir: '.',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  const sdkText = sdk.outputFiles[0]!.text;
  page = createServer((req, res) => {
    if (req.url === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdkText);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>chat app</title><script src="/sdk.js"></script>');
  });
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  page?.closeAllConnections();
  await new Promise((r) => page?.close(r));
  await relay?.close();
  await upstream?.close();
});

/** Runs the page's client code against the API at `apiUrl` (another origin than the page's). */
async function browserCalls(apiUrl: string): Promise<PageResult> {
  const tab = await browser.newPage();
  try {
    await tab.goto(pageUrl);
    return await tab.evaluate(
      async ({ apiUrl, key, limitedKey }) => {
        type Sdk = new (o: Record<string, unknown>) => {
          chat: { completions: { create(body: unknown): any } }; // eslint-disable-line @typescript-eslint/no-explicit-any
        };
        const OpenAI = (globalThis as unknown as { OpenAI: Sdk }).OpenAI;
        const client = (apiKey: string) =>
          new OpenAI({
            apiKey,
            baseURL: `${apiUrl}/v1`,
            dangerouslyAllowBrowser: true,
            maxRetries: 0,
          });
        const names = [
          'x-request-id',
          'x-relay-overhead-ms',
          'x-ratelimit-limit-requests',
          'x-ratelimit-remaining-requests',
          'x-ratelimit-reset-requests',
          'retry-after',
        ];
        const read = (h: Headers) => Object.fromEntries(names.map((n) => [n, h.get(n)]));
        const body = (stream: boolean) => ({
          model: 'm',
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        });
        try {
          const { data, response } = await client(key)
            .chat.completions.create(body(false))
            .withResponse();
          let stream = '';
          for await (const chunk of await client(key).chat.completions.create(body(true))) {
            stream += chunk.choices[0]?.delta?.content ?? '';
          }
          // One request a minute: the first or the second is refused.
          let limited;
          for (let i = 0; i < 2 && !limited; i++) {
            try {
              await client(limitedKey).chat.completions.create(body(false));
            } catch (e) {
              const err = e as { status: number; headers: Headers };
              limited = { status: err.status, headers: read(err.headers) };
            }
          }
          return {
            ok: true,
            json: { content: data.choices[0].message.content, headers: read(response.headers) },
            stream,
            limited,
          };
        } catch (e) {
          return { ok: false, error: String(e) };
        }
      },
      { apiUrl, key: KEY, limitedKey: LIMITED_KEY },
    );
  } finally {
    await tab.close();
  }
}

describe('a browser app on another origin, through the edge', () => {
  let edge: Edge;
  afterAll(() => edge?.close());

  it('calls the relay with the openai SDK, JSON and stream, and reads every client header', async () => {
    edge = await startEdge(relay.baseUrl, apiCors);
    const result = await browserCalls(edge.url);
    expect(result.error).toBeUndefined();
    expect(result.json!.content).toBe('Hello from the fault upstream.');
    expect(result.json!.headers['x-request-id']).toMatch(/^req_/);
    expect(Number(result.json!.headers['x-relay-overhead-ms'])).toBeGreaterThanOrEqual(0);
    expect(result.json!.headers['x-ratelimit-limit-requests']).toBe('100');
    expect(result.json!.headers['x-ratelimit-remaining-requests']).not.toBeNull();
    expect(result.stream).toBe('Hello from the fault upstream.');
    expect(result.limited!.status).toBe(429);
    expect(Number(result.limited!.headers['retry-after'])).toBeGreaterThan(0);
    expect(result.limited!.headers['x-ratelimit-reset-requests']).toMatch(/^(\d+h)?(\d+m)?\d+m?s$/);
  });
});

/** A preflight as a browser sends it for the SDK's request, answered through `edge`. */
async function preflight(edge: Edge): Promise<Headers> {
  const res = await fetch(`${edge.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://chat.example.org',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-stainless-os',
    },
  });
  return res.headers;
}

describe('the preflight through the edge', () => {
  it('allows Authorization by name, which every browser accepts', async () => {
    const edge = await startEdge(relay.baseUrl, apiCors);
    try {
      const allowed = (await preflight(edge)).get('access-control-allow-headers') ?? '';
      expect(allowed.split(',').map((h) => h.trim().toLowerCase())).toContain('authorization');
    } finally {
      await edge.close();
    }
  });
});

describe('the CORS override the distribution had (Allow-Headers: *, expose x-request-id only)', () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await startEdge(relay.baseUrl, OLD_OVERRIDE);
  });
  afterAll(() => edge?.close());

  it('answers the preflight with "*", which under the Fetch spec never covers Authorization', async () => {
    // Firefox and Safari refuse the request after this; Chromium so far only warns.
    expect((await preflight(edge)).get('access-control-allow-headers')).toBe('*');
  });

  it('hides the overhead, rate-limit and retry-after headers from the browser app', async () => {
    const result = await browserCalls(edge.url);
    expect(result.error).toBeUndefined();
    expect(result.json!.headers['x-request-id']).toMatch(/^req_/);
    expect(result.json!.headers['x-relay-overhead-ms']).toBeNull();
    expect(result.json!.headers['x-ratelimit-limit-requests']).toBeNull();
    expect(result.limited!.status).toBe(429);
    expect(result.limited!.headers['retry-after']).toBeNull();
  });
});
