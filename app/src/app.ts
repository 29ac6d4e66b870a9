import { Hono } from 'hono';
import type { Context, HonoRequest } from 'hono';
import { getPath } from 'hono/utils/url';
import { RelayError, errorResponse, toRelayError } from './errors.ts';
import { accessLog } from './middleware/access-log.ts';
import { corsParts } from './middleware/cors.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { authenticate } from './middleware/auth.ts';
import { edge } from './middleware/edge.ts';
import { guard } from './middleware/guard.ts';
import { originSecret } from './middleware/origin-secret.ts';
import { usage } from './middleware/usage.ts';
import { openAiDialect } from './dialects/openai/index.ts';
import { anthropicDialect } from './dialects/anthropic/index.ts';
import { anthropicRoutes } from './routes/anthropic.ts';
import { geminiDialect } from './dialects/gemini/index.ts';
import { geminiRoutes } from './routes/gemini.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { audioRoutes } from './routes/audio.ts';
import { imageRoutes } from './routes/images.ts';
import { imagesHandler, isImageError } from './images/index.ts';
import { billingRoutes } from './routes/billing.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes, visibleModels } from './routes/models.ts';
import { openAiRoutes } from './routes/openai.ts';
import { resolveRuntime } from './runtime.ts';
import { answeredDirectly } from './middleware/reply-headers.ts';
import { nodeOutgoing } from './node-bindings.ts';
import { LeaseKeeper } from './usage/lease-keeper.ts';
import { adminRoutes } from './admin/routes.ts';
import type { AppDeps, AppEnv } from './types.ts';
import type { ClientDialect } from './core/job.ts';

export type { AppDeps, AppEnv };

/** API paths some clients call without the /v1 prefix (their base URL is the bare host). */
const UNVERSIONED =
  /^\/(chat\/completions|completions|embeddings|responses|audio\/|images\/(generations|edits|variations)|models|dashboard\/billing\/)/;

const relayPath = (req: Request): string => {
  const path = getPath(req);
  return UNVERSIONED.test(path) ? `/v1${path}` : path;
};

/** `models/{model}:generateContent` and its siblings: Gemini's, under /v1beta and /v1 alike. */
const GEMINI_CALL = /^\/v1(beta)?\/models\/[^/]+:[A-Za-z]+$/;

/**
 * Who is calling, by path: Anthropic's Messages, Gemini's paths (@google/genai 3 calls them
 * under /v1, beside OpenAI's), OpenAI for everything else. `/v1/models` is both OpenAI's and
 * Gemini's list: a Gemini client says so with its key header.
 */
function dialectOf(req: HonoRequest): ClientDialect {
  const path = req.path;
  if (path.startsWith('/v1/messages')) return anthropicDialect;
  if (path.startsWith('/v1beta/') || GEMINI_CALL.test(path)) return geminiDialect;
  if (path.startsWith('/v1/models') && req.header('x-goog-api-key')) return geminiDialect;
  return openAiDialect;
}

/** Builds the relay. No I/O and no env reads here: everything comes in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const rt = resolveRuntime(deps);
  const { config, logger } = rt;
  const now = () => rt.clock.now();
  const app = new Hono<AppEnv>({ getPath: relayPath });

  const onError = (err: Error, c: Context<AppEnv>): Response | Promise<Response> => {
    // The answer (a stream, or JSON written by the proxy) is on the socket already: an error
    // answer can no longer go out, and the adapter would cut the connection trying, maybe
    // before the answer's last bytes left.
    if (nodeOutgoing(c)?.headersSent) {
      logger.error({ err, requestId: c.get('requestId') }, 'error after the answer was sent');
      return answeredDirectly();
    }
    const relayError = isImageError(err)
      ? new RelayError(err.status, err.code, err.message, { type: err.type, cause: err })
      : toRelayError(err);
    if (relayError.status >= 500 && !(err instanceof RelayError)) {
      logger.error({ err, requestId: c.get('requestId') }, 'unhandled error');
    }
    const record = c.get('record');
    if (record) {
      record.errorCode ??= relayError.code;
      record.errorMessage ??= relayError.message;
    }
    return errorResponse(c, relayError);
  };

  app.use(
    edge({
      dialectOf,
      accessLog: accessLog(logger, now, rt.requestMetrics, rt.inflight),
      cors: corsParts({
        origins: config.server.corsOrigins,
        allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        exposeHeaders: [
          'x-request-id',
          // The Anthropic SDKs read the request id from it.
          'request-id',
          'x-relay-overhead-ms',
          'server-timing',
          'retry-after',
          'x-ratelimit-limit-requests',
          'x-ratelimit-remaining-requests',
          'x-ratelimit-reset-requests',
          'x-ratelimit-limit-tokens',
          'x-ratelimit-remaining-tokens',
          'x-ratelimit-reset-tokens',
        ],
        maxAge: 86_400,
      }),
      originCheck: originSecret(config.server.originSecret),
      onError,
    }),
  );
  app.route('/', healthRoutes(rt));
  // Public on purpose: image URLs are shared; their ids are unguessable.
  if (deps.imageStore) app.get('/images/*', imagesHandler(deps.imageStore));

  // One interval renews every running request's quota hold (see LeaseKeeper).
  const leases = new LeaseKeeper(config.store.holdLeaseMs);
  // Every API path, whatever its dialect: body limit, key, usage row and rpm/tpm, in that order.
  const guarded = () => {
    const sub = new Hono<AppEnv>();
    sub.use(
      guard({
        bodyLimit: bodyLimit(config.server.bodyLimitBytes),
        authenticate: authenticate(rt.store, now),
        usage: usage(rt.store, logger, now, leases, rt.inflight),
        rateLimit: rateLimit(now, rt.store.rates),
        onError,
      }),
    );
    return sub;
  };
  // Hono stays on the hot paths too: the bench floor on plain node:http instead of Hono +
  // @hono/node-server cost 86-93 against 89-98 µs of CPU per request (2026-12-05, alternating
  // runs, 10 connections): a few percent of the relay's ~290 µs, not worth a second request
  // path with its own error handling.
  const visible = visibleModels(rt);
  const api = guarded();
  api.route('/', openAiRoutes(rt));
  api.route('/', anthropicRoutes(rt));
  api.route('/', audioRoutes(rt));
  if (deps.imageStore) api.route('/', imageRoutes(rt, deps.imageStore));
  api.route('/', modelRoutes(rt, visible));
  api.route('/', billingRoutes(rt));
  // Gemini's calls (POST models/{model}:method) under /v1 too, where @google/genai 3 sends them.
  api.route('/', geminiRoutes(rt));
  app.route('/v1', api);
  // Gemini's own version path, which Gemini CLI and older @google/genai call.
  const beta = guarded();
  beta.route('/', geminiRoutes(rt));
  beta.route('/', modelRoutes(rt, visible));
  app.route('/v1beta', beta);
  if (rt.admin) app.route('/', adminRoutes(rt, rt.admin));

  app.notFound((c) => {
    const record = c.get('record');
    if (record) record.errorCode ??= 'not_found';
    return errorResponse(
      c,
      new RelayError(404, 'not_found', `Unknown endpoint: ${c.req.method} ${c.req.path}`),
    );
  });
  app.onError(onError);
  return app;
}
