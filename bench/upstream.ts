/**
 * The benchmark's upstream: as fast as node:http gets, so the numbers measure the relay, not it.
 * Fixed, prebuilt answers in the OpenAI wire format:
 *   - POST /v1/chat/completions, non-stream: one JSON completion with usage;
 *   - stream: BENCH_CHUNKS content chunks (default 20), BENCH_GAP_MS apart (default 0, all in
 *     one write), then the usage chunk when stream_options.include_usage asks for it (every
 *     chunk then carries `"usage":null`, as OpenAI's do), and [DONE];
 *   - GET /v1/models: the one model.
 * and in Anthropic's (for the Messages scenarios):
 *   - POST /v1/messages, JSON: one message with usage; stream: message_start, a ping, one text
 *     block of BENCH_CHUNKS deltas, message_delta with usage, message_stop.
 * and in Gemini's (for the Gemini scenarios):
 *   - POST /v1beta/models/{model}:generateContent: one candidate with usageMetadata;
 *     `:streamGenerateContent?alt=sse`: BENCH_CHUNKS chunks of one text part each, the last with
 *     finishReason and usageMetadata.
 * The key is checked as each provider does (401, or Gemini's 400 API_KEY_INVALID, otherwise). Request bodies are read in full but parsed
 * only for the two flags that change the answer, found by substring: a JSON parse per request
 * would make the baseline slower than the upstream a relay really talks to.
 *
 * Run as its own process: `node bench/upstream.ts` prints `{"port":N}` on stdout once listening.
 * Env: BENCH_UPSTREAM_KEY (required), BENCH_CHUNKS, BENCH_GAP_MS, PORT (default: any free port).
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
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
/**
 * The chunks of one answer. Asked for usage (the relay always asks), OpenAI puts `"usage":null`
 * in every chunk before the usage chunk ("All other chunks will also include a usage field, but
 * with a null value"), so the relay reads what it reads from OpenAI.
 */
function answerFrames(extra: object): string[] {
  const frames = [chunk({ role: 'assistant', content: '' }, null, extra)];
  for (let i = 0; i < CHUNKS; i++) frames.push(chunk({ content: `tok${i} ` }, null, extra));
  frames.push(chunk({}, 'stop', extra));
  return frames;
}
const streamFrames = answerFrames({});
const streamFramesWithUsage = answerFrames({ usage: null });
const usageFrame = frame({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: MODEL,
  choices: [],
  usage,
});
const done = 'data: [DONE]\n\n';
const allAtOnce = Buffer.from(streamFrames.join('') + done);
const allAtOnceWithUsage = Buffer.from(streamFramesWithUsage.join('') + usageFrame + done);
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
const message = Buffer.from(
  JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model: MODEL,
    content: [{ type: 'text', text: 'Hello! How can I help you today?' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: 12,
      output_tokens: CHUNKS,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  }),
);
const event = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const messageFrames: string[] = [
  event('message_start', {
    message: {
      id: 'msg_bench',
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 12,
        output_tokens: 1,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    },
  }),
  event('ping', {}),
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
];
for (let i = 0; i < CHUNKS; i++)
  messageFrames.push(
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `tok${i} ` } }),
  );
messageFrames.push(
  event('content_block_stop', { index: 0 }),
  event('message_delta', {
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: CHUNKS },
  }),
  event('message_stop', {}),
);
const messagesAtOnce = Buffer.from(messageFrames.join(''));
const anthropicUnauthorized = Buffer.from(
  JSON.stringify({
    type: 'error',
    error: { type: 'authentication_error', message: 'invalid x-api-key' },
  }),
);

const geminiChunk = (text: string, last: boolean) => ({
  candidates: [
    {
      content: { parts: [{ text }], role: 'model' },
      ...(last && { finishReason: 'STOP' }),
      index: 0,
    },
  ],
  usageMetadata: last
    ? { promptTokenCount: 12, candidatesTokenCount: CHUNKS, totalTokenCount: 12 + CHUNKS }
    : { promptTokenCount: 12, totalTokenCount: 12 },
  modelVersion: 'gemini-bench',
  responseId: 'bench',
});
const geminiJson = Buffer.from(
  JSON.stringify(geminiChunk('Hello! How can I help you today?', true)),
);
const geminiFrames: string[] = [];
for (let i = 0; i < CHUNKS; i++)
  geminiFrames.push(`data: ${JSON.stringify(geminiChunk(`tok${i} `, i === CHUNKS - 1))}\r\n\r\n`);
const geminiAtOnce = Buffer.from(geminiFrames.join(''));
const geminiUnauthorized = Buffer.from(
  JSON.stringify({
    error: {
      code: 400,
      message: 'API key not valid. Please pass a valid API key.',
      status: 'INVALID_ARGUMENT',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
    },
  }),
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = createServer((req, res) => {
  const body: Buffer[] = [];
  req.on('data', (c: Buffer) => body.push(c));
  req.on('end', () => {
    if (req.url?.startsWith('/v1beta/models/')) {
      answerGemini(req.headers['x-goog-api-key'] === KEY, req.url.includes(':stream'), res);
      return;
    }
    if (req.url === '/v1/messages') {
      answerMessages(req.headers['x-api-key'] === KEY, Buffer.concat(body).toString('latin1'), res);
      return;
    }
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
      res.end(withUsage ? allAtOnceWithUsage : allAtOnce);
      return;
    }
    void (async () => {
      for (const f of withUsage ? streamFramesWithUsage : streamFrames) {
        if (res.destroyed) return;
        res.write(f);
        await sleep(GAP_MS);
      }
      res.end(withUsage ? usageFrame + done : done);
    })();
  });
});
function answerMessages(authorized: boolean, text: string, res: ServerResponse): void {
  if (!authorized) {
    res.writeHead(401, { 'content-type': 'application/json' }).end(anthropicUnauthorized);
    return;
  }
  if (!/"stream"\s*:\s*true/.test(text)) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(message);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (GAP_MS <= 0) {
    res.end(messagesAtOnce);
    return;
  }
  void (async () => {
    for (const f of messageFrames) {
      if (res.destroyed) return;
      res.write(f);
      await sleep(GAP_MS);
    }
    res.end();
  })();
}

function answerGemini(authorized: boolean, stream: boolean, res: ServerResponse): void {
  if (!authorized) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(geminiUnauthorized);
    return;
  }
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(geminiJson);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (GAP_MS <= 0) {
    res.end(geminiAtOnce);
    return;
  }
  void (async () => {
    for (const f of geminiFrames) {
      if (res.destroyed) return;
      res.write(f);
      await sleep(GAP_MS);
    }
    res.end();
  })();
}

server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
