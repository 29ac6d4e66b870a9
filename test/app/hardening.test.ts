/**
 * Input hardening: random and adversarial requests, property-based (fast-check), against a real
 * relay (startTestRelay) with a real loopback upstream behind it, so valid-looking requests go
 * all the way through. Whatever comes in, the relay must:
 *   - answer (or close the connection) within a bound, never hang;
 *   - never answer 500 (5xx only 502/503/504, upstream conditions);
 *   - give every error it produces the contract body, with the request id of its header;
 *   - stay alive (/healthz still answers) with bounded memory.
 * Runs are bounded so the file takes well under a minute. fast-check prints the seed and the
 * shrunk counterexample on failure; set FC_SEED=<n> to replay a run.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';
import { rawRequest } from '../fixtures/raw-http.ts';
import type { RawRequest, RawResponse } from '../fixtures/raw-http.ts';
import { startTestRelay } from '../fixtures/relay-harness.ts';
import type { TestRelay } from '../fixtures/relay-harness.ts';

const LIMITED_KEY = 'sk-hard-limited-0123456789';
const OPEN_KEY = 'sk-hard-unlimited-0123456789';
const UPSTREAM_KEY = 'sk-upstream-hardening-1';
const MODELS = ['gpt-4o-mini', 'whisper-1', 'dall-e-2', 'text-embedding-3-small'];
const BODY_LIMIT = 1024 * 1024;
const REQUEST_BOUND_MS = 5_000;
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
const runs = (n: number) => ({ numRuns: n, ...(seed !== undefined && { seed }) });

const JSON_ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/images/generations',
  '/chat/completions',
];
const MULTIPART_ENDPOINTS = [
  '/v1/audio/transcriptions',
  '/v1/images/edits',
  '/v1/images/variations',
];

interface Tally {
  statuses: Map<number, number>;
  /** Responses that reached the app but carry no contract body (a finding when non-empty). */
  offContract: string[];
}

const tally: Tally = { statuses: new Map(), offContract: [] };

/**
 * The relay's side of the property, for one request/response pair. `mustAnswer` is false for
 * requests the HTTP layer may legitimately drop (truncated bodies, bytes that are not HTTP).
 */
function checkAnswer(req: RawRequest, res: RawResponse, mustAnswer: boolean): void {
  const what = `${req.method} ${JSON.stringify(req.path).slice(0, 200)}`;
  expect(res.timedOut, `${what}: no answer and no close within ${REQUEST_BOUND_MS} ms`).toBe(false);
  if (mustAnswer) expect(res.status, `${what}: connection closed without an answer`).not.toBe(0);
  if (res.status === 0) return;
  tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
  expect(
    res.status >= 500 ? [502, 503, 504] : [res.status],
    `${what} → ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
  ).toContain(res.status);
  if (res.status < 400) return;
  const requestId = res.headers['x-request-id'];
  // No x-request-id: Node's HTTP parser refused the bytes before the app saw them (400/431...).
  if (requestId === undefined) {
    expect(
      [400, 405, 413, 414, 431, 501, 505],
      `${what}: ${res.status} from below the app`,
    ).toContain(res.status);
    return;
  }
  if (req.method === 'HEAD') return; // no body by definition
  const text = res.body.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    tally.offContract.push(`${what} → ${res.status} ${text.slice(0, 100)}`);
    throw new Error(`${what}: ${res.status} with a non-JSON error body: ${text.slice(0, 200)}`);
  }
  expect(body, `${what}: error body shape`).toEqual({
    error: {
      message: expect.any(String),
      type: expect.any(String),
      code: expect.any(String),
      param: expect.toSatisfy((p: unknown) => p === null || typeof p === 'string'),
    },
    request_id: requestId,
  });
}

/** Sends, then checks; returns the response for case-specific assertions. */
async function send(t: TestRelay, req: RawRequest, mustAnswer = true): Promise<RawResponse> {
  const port = t.relay.port;
  const res = await rawRequest({ timeoutMs: REQUEST_BOUND_MS, ...req }, port);
  checkAnswer(req, res, mustAnswer);
  return res;
}

// ---------------------------------------------------------------- generators

const junkString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '\u0000',
    '\u0000\u0001\u001f\u007f',
    '\ud800',
    '\udfff\ud800',
    '💥'.repeat(50),
    '',
  ),
);

/** Any JSON value, the "wrong type" for every field. */
const anyJson = fc.oneof(
  { maxDepth: 3 },
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 1, 1e308, -1e308, '', '0', [], {}),
  junkString,
);

const goodMessages = [{ role: 'user', content: 'hi' }];

/** A well-formed chat request: the relay must keep serving these whatever else is thrown at it. */
const sendGoodChat = (t: TestRelay) =>
  send(t, {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: [
      ['authorization', `Bearer ${OPEN_KEY}`],
      ['content-type', 'application/json'],
    ],
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: goodMessages }),
  });

/** A chat-shaped body where any field may be right, wrong, missing or absurd. */
const chatBody = fc.record(
  {
    model: fc.oneof(fc.constantFrom(...MODELS, 'unknown-model', 'x'.repeat(300)), anyJson),
    messages: fc.oneof(
      fc.constant(goodMessages),
      fc.constant([{ role: 'assistant', content: null, tool_calls: [] }, { role: 'tool' }]),
      fc.array(fc.record({ role: anyJson, content: anyJson }, { requiredKeys: [] }), {
        maxLength: 3,
      }),
      anyJson,
    ),
    stream: fc.oneof(fc.boolean(), anyJson),
    stream_options: fc.oneof(fc.constant({ include_usage: true }), anyJson),
    max_tokens: fc.oneof(
      fc.integer({ min: 0, max: 4096 }),
      fc.constantFrom(-1, 0.5, 1e21, 2 ** 53, 1e308, '16', null),
      anyJson,
    ),
    n: fc.oneof(fc.integer({ min: -5, max: 200 }), anyJson),
    prompt: anyJson,
    input: anyJson,
    temperature: anyJson,
  },
  { requiredKeys: [] },
);

/** Text bodies: JSON that is valid, truncated, absurdly nested, huge or not UTF-8 at all. */
const jsonText = fc.oneof(
  chatBody.map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.tuple(chatBody, fc.nat()).map(([b, cut]) => {
    const s = JSON.stringify(b);
    return s.slice(0, cut % Math.max(1, s.length));
  }),
  fc
    .tuple(
      fc.constantFrom('[', '{"a":', '{"model":"gpt-4o-mini","messages":'),
      fc.integer({ min: 1, max: 200_000 }),
    )
    .map(([open, depth]) => {
      const close = open === '[' ? ']' : '}';
      return open.repeat(depth) + '1' + close.repeat(depth);
    }),
  fc
    .integer({ min: 1, max: 100_000 })
    .map(
      (depth) =>
        `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    ),
  fc.constantFrom(
    '1e400',
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":1e400}',
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":123456789012345678901234567890}',
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":9007199254740993}',
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":1e400}',
    '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\\u0000\\ud800"}]}',
    '{"model":"\\u0000","messages":[{"role":"user","content":"hi"}]}',
    '{"__proto__":{"model":"gpt-4o-mini"},"constructor":{"prototype":{"x":1}}}',
    '{"model":"gpt-4o-mini","model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    '',
    ' ',
    'null',
    '\uFEFF{}',
  ),
  fc
    .integer({ min: 10_000, max: 900_000 })
    .map(
      (n) =>
        `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${'a'.repeat(n)}"}],"stream":true}`,
    ),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/vnd.api+json',
    'APPLICATION/JSON',
    'application/jsonx',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data',
    'multipart/form-data; boundary=',
    '',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).filter((s) => !/[\r\n]/.test(s)),
);

const authHeader = fc.oneof(
  fc.constantFrom(
    `Bearer ${OPEN_KEY}`,
    `Bearer ${LIMITED_KEY}`,
    `bearer    ${OPEN_KEY}   `,
    'Bearer',
    'Bearer ',
    'Bearer      ',
    '',
    'Basic Zm9vOmJhcg==',
    `Bearer ${OPEN_KEY}, Bearer ${LIMITED_KEY}`,
    `Bearer ${'x'.repeat(8_000)}`,
    'Bearer \u00ff\u00fe',
  ),
  fc
    .string({ unit: 'grapheme-ascii', maxLength: 80 })
    .filter((s) => !/[\r\n]/.test(s))
    .map((s) => `Bearer ${s}`),
);

const latin1Header = fc
  .string({ unit: 'grapheme-ascii', maxLength: 60 })
  .filter((s) => !/[\r\n]/.test(s));

/** Extra headers: auth in every style, junk request ids, odd encodings and origins. */
const extraHeaders = fc
  .record(
    {
      authorization: authHeader,
      'x-api-key': fc.oneof(fc.constant(OPEN_KEY), latin1Header),
      'x-request-id': fc.oneof(latin1Header, fc.constant('a'.repeat(500))),
      accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', ''),
      'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
      origin: fc.constantFrom('https://evil.example', 'null', ''),
      'x-stainless-lang': latin1Header,
    },
    { requiredKeys: [] },
  )
  .map((h) => Object.entries(h) as [string, string][]);

const pathPiece = fc.constantFrom(
  '/v1/chat/completions',
  '/v1/models',
  '/v1/models/gpt-4o-mini',
  '/healthz',
  '/images/',
  '/images/2026/01/01/abc.png',
  '/images/..%2f..%2fetc%2fpasswd',
  '/images/%2e%2e/%2e%2e/relay.db',
  '/images/....//....//',
  '/v1/dashboard/billing/usage?start_date=2026-13-45&end_date=x',
  '/v1/dashboard/billing/subscription',
  '/dashboard/billing/usage?start_date=&end_date=%',
  '/v1/audio/transcriptions',
  '/v1/images/edits',
  '//v1//chat//completions',
  '/v1/%00',
  '/v1/%',
  '/v1/%zz',
  '/v1/%c0%af',
  '/v1/%ff%fe',
  '/v1/chat/completions%00',
  '/v1/chat/completions/',
  '/v1/chat/completions?stream=true&&&=',
  '/v1/chat/completions#x',
  '/V1/CHAT/COMPLETIONS',
  '/v1/../healthz',
  '/./v1/./models',
  '\\v1\\models',
  '/..',
  '*',
  'http://127.0.0.1/v1/models',
  '/ü/ø',
  `/${'a'.repeat(8_000)}`,
  '/?' + 'q'.repeat(2_000),
);

/** Paths Node's client would refuse to send: any printable byte, built from pieces and junk. */
const anyPath = fc.oneof(
  pathPiece,
  fc
    .array(fc.oneof(pathPiece, fc.string({ unit: 'grapheme-ascii', maxLength: 12 })), {
      minLength: 1,
      maxLength: 4,
    })
    .map((parts) => parts.join('').replace(/[\s]/g, '%20') || '/'),
);

const method = fc.oneof(
  fc.constantFrom(
    'GET',
    'POST',
    'PUT',
    'DELETE',
    'PATCH',
    'HEAD',
    'OPTIONS',
    'TRACE',
    'PROPFIND',
    'get',
    'FOO',
  ),
  fc.stringMatching(/^[A-Z]{1,12}$/),
);

// ---------------------------------------------------------------- multipart

function multipartBody(
  boundary: string,
  parts: { name: string; filename?: string; type?: string; data: Buffer | string }[],
): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    out.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: ${disposition}\r\n${p.type ? `content-type: ${p.type}\r\n` : ''}\r\n`,
      ),
      Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

const multipartCase = fc.record({
  path: fc.constantFrom(...MULTIPART_ENDPOINTS),
  boundary: fc.oneof(
    fc.constantFrom('relayboundary', 'x', '-'.repeat(70), 'a b', '"quoted"'),
    fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/),
  ),
  headerBoundary: fc.oneof(
    fc.constant<'same'>('same'),
    fc.constantFrom('', 'other', '""', 'x'.repeat(200)),
  ),
  model: fc.oneof(fc.constantFrom('whisper-1', 'dall-e-2', 'unknown'), junkString),
  fileField: fc.constantFrom('file', 'image', 'image[]', 'mask', ''),
  fileName: fc.oneof(fc.constantFrom('a.wav', 'b.png', '../../etc/passwd', ''), junkString),
  fileBytes: fc.uint8Array({ maxLength: 4096 }),
  extraFields: fc.array(
    fc.tuple(fc.constantFrom('prompt', 'n', 'response_format', 'stream', 'x'), junkString),
    {
      maxLength: 4,
    },
  ),
  cut: fc.option(fc.nat(), { nil: undefined }),
  declaredLength: fc.constantFrom<'auto' | 'short' | 'long'>(
    'auto',
    'auto',
    'auto',
    'short',
    'long',
  ),
});

// ---------------------------------------------------------------- the relay under test

describe('input hardening: the relay answers anything without a 500', () => {
  let upstream: FakeUpstream;
  let t: TestRelay;
  let baseline: NodeJS.MemoryUsage;

  // A real collection before each memory reading, so heapUsed measures what is still held.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // In production an unhandled rejection ends the process: each one is a remote crash.
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    upstream = await startOpenAiUpstream({ apiKey: UPSTREAM_KEY });
    t = await startTestRelay(
      {
        server: { bodyLimitBytes: BODY_LIMIT },
        channels: [
          {
            name: 'loopback',
            type: 'openai',
            baseUrl: upstream.url,
            apiKey: 'env:TEST_HARD_KEY',
            models: MODELS,
          },
        ],
        keys: [
          { name: 'limited', key: LIMITED_KEY, quota: 1, models: ['*'] },
          { name: 'open', key: OPEN_KEY, models: ['*'] },
        ],
        prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 }, 'dall-e-2': { image: 0.02 } },
        images: { store: 'local' },
      },
      { TEST_HARD_KEY: UPSTREAM_KEY },
    );
    // Warm up (JIT, SQLite, first upstream connection), then take the memory baseline.
    const ok = await sendGoodChat(t);
    expect(ok.status).toBe(200);
    gc();
    baseline = process.memoryUsage();
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await t?.close();
    await upstream?.close();
  });

  it('JSON endpoints: random bodies, content types and auth never get a 500', async () => {
    const before = new Map(tally.statuses);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...JSON_ENDPOINTS),
        jsonText,
        fc.oneof(fc.constant('application/json'), contentType),
        fc.oneof(
          fc.constant(`Bearer ${OPEN_KEY}`),
          fc.constant(`Bearer ${LIMITED_KEY}`),
          authHeader,
        ),
        async (path, body, type, auth) => {
          await send(t, {
            method: 'POST',
            path,
            headers: [
              ['authorization', auth],
              ['content-type', type],
            ],
            body,
          });
        },
      ),
      runs(400),
    );
    // The generators reached both sides: requests that went through and ones refused.
    const delta = (s: number) => (tally.statuses.get(s) ?? 0) - (before.get(s) ?? 0);
    expect(delta(200), 'some random bodies were valid and went through').toBeGreaterThan(0);
    expect(delta(400), 'some were refused as invalid').toBeGreaterThan(0);
  });

  it('any method, path and headers: routing, auth and the image server never get a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        anyPath,
        extraHeaders,
        fc.option(jsonText, { nil: undefined }),
        async (m, path, headers, body) => {
          await send(
            t,
            {
              method: m,
              path,
              headers:
                body === undefined ? headers : [...headers, ['content-type', 'application/json']],
              body,
            },
            // CONNECT-like or otherwise unparseable request lines may just be closed by Node.
            false,
          );
        },
      ),
      runs(400),
    );
  });

  it('raw bytes Node has to judge (NUL, CR, DEL, high bytes in the request line and headers)', async () => {
    const cases: RawRequest[] = [
      { method: 'GET', path: '/v1/\u0000' },
      { method: 'GET', path: '/v1/models\u007f' },
      { method: 'GET', path: '/v1/m\u00ffodels' },
      { method: 'GET', path: '/healthz', headers: [['x-junk', 'a\u0000b']] },
      {
        method: 'GET',
        path: '/v1/models',
        headers: [['authorization', `Bearer \u0001${OPEN_KEY}`]],
      },
      { method: 'GET', path: '/v1/models', headers: [['bad header', 'x']] },
      { method: 'GET', path: '/v1/models', headers: [['x', 'y\rz']] },
      { method: 'P\u00d6ST', path: '/v1/chat/completions' },
      { method: 'GET', path: '/v1/models', headers: [['transfer-encoding', 'chunked, gzip']] },
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: [
          ['content-length', '5'],
          ['transfer-encoding', 'chunked'],
        ],
        body: '0\r\n\r\n',
      },
      { method: 'POST', path: '/v1/chat/completions', headers: [['content-length', '-1']] },
      { method: 'POST', path: '/v1/chat/completions', headers: [['content-length', '1e3']] },
      {
        method: 'GET',
        path: '/v1/models',
        headers: [
          ...Array.from(
            { length: 300 },
            (_, i) => [`x-h${i}`, 'v'.repeat(200)] as [string, string],
          ),
        ],
      },
    ];
    // A trailing no-break space (a Latin-1 byte) is trimmed like any whitespace: served, not refused.
    const nbsp = await send(t, {
      method: 'GET',
      path: '/v1/models',
      headers: [['authorization', `Bearer ${OPEN_KEY}\u00a0`]],
    });
    expect(nbsp.status).toBe(200);
    for (const req of cases) {
      const res = await send(t, req, false);
      // Each of these is malformed HTTP or an unknown/unauthenticated request: refused, not served.
      if (res.status !== 0)
        expect(res.status, JSON.stringify(req.path)).toBeGreaterThanOrEqual(400);
    }
  });

  it('multipart junk to the upload endpoints: bad boundaries, truncated parts, wrong lengths', async () => {
    await fc.assert(
      fc.asyncProperty(
        multipartCase,
        fc.oneof(fc.constant(`Bearer ${OPEN_KEY}`), authHeader),
        async (mc, auth) => {
          const fields = [
            { name: 'model', data: mc.model },
            ...mc.extraFields.map(([name, data]) => ({ name, data })),
            {
              name: mc.fileField,
              filename: mc.fileName,
              type: 'application/octet-stream',
              data: Buffer.from(mc.fileBytes),
            },
          ];
          let body = multipartBody(mc.boundary, fields);
          if (mc.cut !== undefined) body = body.subarray(0, mc.cut % (body.length + 1));
          const headerBoundary = mc.headerBoundary === 'same' ? mc.boundary : mc.headerBoundary;
          const headers: [string, string][] = [
            ['authorization', auth],
            ['content-type', `multipart/form-data; boundary=${headerBoundary}`],
          ];
          // A declared length that is wrong: too short leaves junk for the next request on the
          // socket; too long leaves the relay waiting for bytes that never come (we close).
          if (mc.declaredLength === 'short')
            headers.push(['content-length', String(Math.floor(body.length / 2))]);
          if (mc.declaredLength === 'long')
            headers.push(['content-length', String(body.length + 100)]);
          await send(
            t,
            {
              method: 'POST',
              path: mc.path,
              headers,
              body,
              timeoutMs: mc.declaredLength === 'long' ? 300 : REQUEST_BOUND_MS,
            },
            mc.declaredLength === 'auto',
          ).catch((err: unknown) => {
            // A body longer than declared is the one case where "no answer yet" is right: the relay
            // is still waiting for the bytes; it must not have answered 500 meanwhile.
            if (mc.declaredLength === 'long' && /no answer and no close/.test(String(err))) return;
            throw err;
          });
        },
      ),
      runs(250),
    );
  });

  it('oversize bodies get 413 (declared, chunked and multipart), and the relay keeps serving', async () => {
    const big = Buffer.alloc(BODY_LIMIT + 1024, 'a');
    const auth: [string, string] = ['authorization', `Bearer ${OPEN_KEY}`];
    const declared = await send(
      t,
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: [auth, ['content-type', 'application/json']],
        body: big,
      },
      false,
    );
    if (declared.status !== 0) expect(declared.status).toBe(413);

    const chunked = await send(
      t,
      {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: [auth, ['content-type', 'application/json'], ['transfer-encoding', 'chunked']],
        body: Buffer.concat([
          Buffer.from(`${big.length.toString(16)}\r\n`),
          big,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      },
      false,
    );
    if (chunked.status !== 0) expect(chunked.status).toBe(413);

    const upload = await send(
      t,
      {
        method: 'POST',
        path: '/v1/audio/transcriptions',
        headers: [
          auth,
          ['content-type', 'multipart/form-data; boundary=b'],
          ['transfer-encoding', 'chunked'],
        ],
        body: (() => {
          const form = multipartBody('b', [
            { name: 'model', data: 'whisper-1' },
            { name: 'file', filename: 'a.wav', data: big },
          ]);
          return Buffer.concat([
            Buffer.from(`${form.length.toString(16)}\r\n`),
            form,
            Buffer.from('\r\n0\r\n\r\n'),
          ]);
        })(),
      },
      false,
    );
    if (upload.status !== 0) expect(upload.status).toBe(413);
    // At least one of them must actually have been answered with the 413 (not merely closed).
    expect([declared.status, chunked.status, upload.status]).toContain(413);
  });

  it('a slow-loris client neither hangs the relay nor stays in flight after it leaves', async () => {
    const port = t.relay.port;
    // The relay always picks its own request ids, so lorises are counted by their log lines.
    const chatLines = () =>
      t.logs.filter((l) => l.msg === 'request' && l.path === '/v1/chat/completions').length;
    const before = chatLines();
    const lorisIds = Array.from({ length: 12 }, (_, i) => `loris_${i}`);
    const sockets = lorisIds.map((id, i) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      const head =
        `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
        `authorization: Bearer ${OPEN_KEY}\r\ncontent-type: application/json\r\n` +
        `x-loris: ${id}\r\ncontent-length: 1000\r\n`;
      // A third stop mid-headers, a third after the headers, a third drip the body.
      if (i % 3 === 0) s.write(head);
      else s.write(`${head}\r\n{"model":"gpt-4o-mini",`);
      return s;
    });
    const drips = sockets
      .filter((_, i) => i % 3 === 2)
      .map((s) => setInterval(() => s.writable && s.write(' '), 50));
    try {
      await Promise.all(sockets.map((s) => once(s, 'connect')));
      await new Promise((r) => setTimeout(r, 300));
      // Meanwhile, a normal client is served as usual.
      const res = await sendGoodChat(t);
      expect(res.status).toBe(200);
      const health = await send(t, { method: 'GET', path: '/healthz' });
      expect(health.status).toBe(200);
    } finally {
      for (const d of drips) clearInterval(d);
      for (const s of sockets) s.destroy();
    }
    // Every loris whose headers got through reached the app; once the client is gone, its request
    // must end (a log line is written when it does), or shutdown would wait out its whole grace.
    const reached = lorisIds.filter((_, i) => i % 3 !== 0);
    const deadline = Date.now() + REQUEST_BOUND_MS;
    // every loris that reached the app, plus the one normal request
    const expected = before + reached.length + 1;
    while (chatLines() < expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(chatLines()).toBe(expected);
    // Node's own limits are what end a loris that never leaves: they must be finite.
    expect(t.relay.server).toMatchObject({
      headersTimeout: expect.toSatisfy((n: number) => n > 0 && n <= 120_000),
      requestTimeout: expect.toSatisfy((n: number) => n > 0 && n <= 600_000),
    });
  });

  it('is still alive afterwards, with bounded memory', async () => {
    const health = await send(t, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString('utf8'))).toMatchObject({ status: 'ok' });
    gc();
    const after = process.memoryUsage();
    const mb = (n: number) => Math.round(n / 2 ** 20);
    console.info(
      `hardening: statuses ${JSON.stringify(Object.fromEntries([...tally.statuses].sort(([a], [b]) => a - b)))}; ` +
        `heapUsed ${mb(baseline.heapUsed)} → ${mb(after.heapUsed)} MB, rss ${mb(baseline.rss)} → ${mb(after.rss)} MB, ` +
        `external ${mb(baseline.external)} → ${mb(after.external)} MB`,
    );
    expect(after.rss - baseline.rss, 'rss growth').toBeLessThan(300 * 2 ** 20);
    expect(after.heapUsed - baseline.heapUsed, 'heap growth').toBeLessThan(150 * 2 ** 20);
    expect(tally.offContract).toEqual([]);
    expect(unhandled.map(String), 'unhandled rejections (each one would crash the relay)').toEqual(
      [],
    );
  });
});
