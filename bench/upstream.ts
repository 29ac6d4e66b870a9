/**
 * The benchmark's upstream: as fast as node:http gets, so the numbers measure the relay, not it.
 * Fixed, prebuilt answers in the OpenAI wire format:
 *   - POST /v1/chat/completions, non-stream: one JSON completion with usage;
 *   - stream: BENCH_CHUNKS content chunks (default 20), BENCH_GAP_MS apart (default 0, all in
 *     one write), then the usage chunk when stream_options.include_usage asks for it, and [DONE];
 *   - GET /v1/models: the one model.
 * The key is checked as OpenAI does (401 otherwise). Request bodies are read in full but parsed
 * only for the two flags that change the answer, found by substring: a JSON parse per request
 * would make the baseline slower than the upstream a relay really talks to.
 *
 * Run as its own process: `node bench/upstream.ts` prints `{"port":N}` on stdout once listening.
 * Env: BENCH_UPSTREAM_KEY (required), BENCH_CHUNKS, BENCH_GAP_MS, PORT (default: any free port).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const KEY = process.env.BENCH_UPSTREAM_KEY;
if (!KEY) throw new Error('BENCH_UPSTREAM_KEY is required');
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 0);
const MODEL = 'gpt-4o-mini';
const CREATED = 1_763_000_000;
const usage = { prompt_tokens: 12, completion_tokens: CHUNKS, total_tokens: 12 + CHUNKS };

const json = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage,
    system_fingerprint: 'fp_bench',
  }),
);

const frame = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const chunk = (delta: Record<string, unknown>, finish: string | null, extra = {}) =>
  frame({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: MODEL,
    system_fingerprint: 'fp_bench',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });
const streamFrames: string[] = [chunk({ role: 'assistant', content: '' }, null)];
for (let i = 0; i < CHUNKS; i++) streamFrames.push(chunk({ content: `tok${i} ` }, null));
streamFrames.push(chunk({}, 'stop'));
const usageFrame = frame({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: MODEL,
  choices: [],
  usage,
});
const done = 'data: [DONE]\n\n';
const allAtOnce = Buffer.from(streamFrames.join(''));
const modelsBody = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: [{ id: MODEL, object: 'model', created: CREATED, owned_by: 'bench' }],
  }),
);
const unauthorized = Buffer.from(
  JSON.stringify({
    error: {
      message: 'Incorrect API key provided.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    },
  }),
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = createServer((req, res) => {
  const body: Buffer[] = [];
  req.on('data', (c: Buffer) => body.push(c));
  req.on('end', () => {
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(unauthorized);
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(modelsBody);
      return;
    }
    const text = Buffer.concat(body).toString('latin1');
    if (!/"stream"\s*:\s*true/.test(text)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(json);
      return;
    }
    const withUsage = /"include_usage"\s*:\s*true/.test(text);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (GAP_MS <= 0) {
      res.end(
        withUsage ? Buffer.concat([allAtOnce, Buffer.from(usageFrame + done)]) : allAtOnce + done,
      );
      return;
    }
    void (async () => {
      for (const f of streamFrames) {
        if (res.destroyed) return;
        res.write(f);
        await sleep(GAP_MS);
      }
      res.end(withUsage ? usageFrame + done : done);
    })();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
