import type { ChannelConfig } from '../config.ts';
import { invalidRequest } from '../errors.ts';
import type { ChatRequest } from '../core/chat.ts';
import type { ProxyJob } from '../core/job.ts';
import { openAiDialect } from '../dialects/openai/index.ts';
import { adapterFor } from '../providers/registry.ts';
import type { ProviderAdapter } from '../providers/types.ts';
import { sendToChannel } from '../proxy/send.ts';
import type { RelayRuntime } from '../runtime.ts';
import { matchesAny } from '../routing/patterns.ts';

const TEST_TIMEOUTS = { connectMs: 5_000, firstByteMs: 30_000, idleMs: 30_000 };
const MAX_TEXT = 500;

export interface ChannelTestResult {
  readonly ok: boolean;
  readonly channel: string;
  readonly model: string;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly answer: string | null;
  readonly error: string | null;
}

/** The model a test asks for: the one named, else the channel's first literal model or alias. */
function testModel(
  channel: ChannelConfig,
  asked: string | undefined,
): { client: string; upstream: string } {
  if (asked !== undefined) {
    const mapped = Object.hasOwn(channel.modelMap, asked) ? channel.modelMap[asked] : undefined;
    if (mapped !== undefined) return { client: asked, upstream: mapped };
    if (matchesAny(channel.models, asked)) return { client: asked, upstream: asked };
    throw invalidRequest(`Channel "${channel.name}" does not serve "${asked}".`, 'model');
  }
  const literal = channel.models.find((m) => !m.includes('*'));
  if (literal) return { client: literal, upstream: literal };
  const [alias, target] = Object.entries(channel.modelMap)[0] ?? [];
  if (alias && target) return { client: alias, upstream: target };
  throw invalidRequest(
    `Channel "${channel.name}" lists only model patterns; name the model to test.`,
    'model',
  );
}

const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);

/** Upstream texts can quote the key they were sent; the operator sees the rest. */
const redact = (text: string, channel: ChannelConfig) =>
  [channel.apiKey, ...Object.values(channel.headers)]
    .filter((s) => s.length >= 8)
    .reduce((t, secret) => t.split(secret).join('[redacted]'), text);

/** The test's request, in neutral form: each channel type builds it in its own dialect. */
function testJob(model: string): ProxyJob {
  const chat: ChatRequest = {
    model,
    system: [],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Reply with the word OK.' }] }],
    tools: [],
    stop: [],
    stream: false,
    maxTokens: 16,
  };
  return {
    dialect: openAiDialect,
    operation: 'chat',
    endpoint: '/chat/completions',
    model,
    stream: false,
    clientWantsUsage: false,
    estimate: { promptTokens: 0, completionTokens: 0 },
    chat: () => chat,
    body: () => Promise.resolve({ json: {} }),
  };
}

/** The answer's text, read by the channel's own adapter; null when it is not an answer. */
function answerText(adapter: ProviderAdapter, json: unknown, job: ProxyJob): string | null {
  if (json === undefined) return null;
  const response = adapter.decodeJson(json, job, true).response;
  if (!response) return null;
  return response.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/**
 * One tiny chat request straight to the channel (no failover, no breaker, no quota, no usage
 * row), timed: what the console's "test now" button shows.
 */
export async function testChannel(
  rt: RelayRuntime,
  channel: ChannelConfig,
  askedModel: string | undefined,
): Promise<ChannelTestResult> {
  const model = testModel(channel, askedModel);
  const started = performance.now();
  const base = { channel: channel.name, model: model.client };
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const adapter = adapterFor(channel.type);
    const job = testJob(model.upstream);
    const req = adapter.buildRequest({
      channel,
      operation: 'chat',
      stream: false,
      defaultMaxTokens: 16,
      headers: {},
      chat: job.chat!(),
    });
    const res = await sendToChannel(rt, adapter, channel, req, {
      timeouts: TEST_TIMEOUTS,
      signal: AbortSignal.timeout(TEST_TIMEOUTS.firstByteMs + TEST_TIMEOUTS.idleMs),
    });
    const text = await res.text(64 * 1024);
    const latencyMs = elapsed();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const ok = res.status >= 200 && res.status < 300;
    if (ok) {
      const answer = answerText(adapter, json, job);
      return {
        ...base,
        ok: answer !== null,
        status: res.status,
        latencyMs,
        answer,
        error: answer === null ? clip(redact(text, channel)) : null,
      };
    }
    return {
      ...base,
      ok: false,
      status: res.status,
      latencyMs,
      answer: null,
      error: clip(redact(text, channel)) || `HTTP ${res.status}`,
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ...base,
      ok: false,
      status: null,
      latencyMs: elapsed(),
      answer: null,
      error: clip(redact(message, channel)),
    };
  }
}
