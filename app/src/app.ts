import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { getPath } from 'hono/utils/url';
import { RelayError, errorResponse, toRelayError } from './errors.ts';
import { accessLog } from './middleware/access-log.ts';
import { canonicalAdminPath } from './middleware/admin-path.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { requestId } from './middleware/request-id.ts';
import { auth } from './middleware/auth.ts';
import { originSecret } from './middleware/origin-secret.ts';
import { usage } from './middleware/usage.ts';
import { dialect } from './middleware/dialect.ts';
import { openAiDialect } from './dialects/openai/index.ts';
import { anthropicDialect } from './dialects/anthropic/index.ts';
import { anthropicRoutes } from './routes/anthropic.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { audioRoutes } from './routes/audio.ts';
import { imageRoutes } from './routes/images.ts';
import { imagesHandler, isImageError } from './images/index.ts';
import { billingRoutes } from './routes/billing.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { openAiRoutes } from './routes/openai.ts';
import { resolveRuntime } from './runtime.ts';
import { adminRoutes } from './admin/routes.ts';
import type { AppDeps, AppEnv } from './types.ts';

export type { AppDeps, AppEnv };

/** API paths some clients call without the /v1 prefix (their base URL is the bare host). */
const UNVERSIONED =
  /^\/(chat\/completions|completions|embeddings|responses|audio\/|images\/(generations|edits|variations)|models|dashboard\/billing\/)/;

const relayPath = (req: Request): string => {
  const path = getPath(req);
  return UNVERSIONED.test(path) ? `/v1${path}` : path;
};

/** Builds the relay. No I/O and no env reads here: everything comes in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const rt = resolveRuntime(deps);
  const { config, logger } = rt;
  const now = () => rt.clock.now();
  const app = new Hono<AppEnv>({ getPath: relayPath });

  app.use(requestId());
  app.use(dialect([['/v1/messages', anthropicDialect]], openAiDialect));
  app.use(accessLog(logger, now, rt.inflight));
  app.use(
    cors({
      origin: config.server.corsOrigins.includes('*') ? '*' : [...config.server.corsOrigins],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      // Empty = echo whatever the preflight asks for (x-stainless-*, and the next SDK's headers).
      allowHeaders: [],
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
      ],
      maxAge: 86_400,
    }),
  );
  app.use(originSecret(config.server.originSecret));
  app.use(canonicalAdminPath());
  app.route('/', healthRoutes(rt));
  // Public on purpose: image URLs are shared; their ids are unguessable.
  if (deps.imageStore) app.get('/images/*', imagesHandler(deps.imageStore));

  const api = new Hono<AppEnv>();
  api.use(bodyLimit(config.server.bodyLimitBytes));
  api.use(auth(rt.store, now));
  api.use(usage(rt.store, logger, now));
  api.use(rateLimit(now, deps.rateWindows));
  api.route('/', openAiRoutes(rt));
  api.route('/', anthropicRoutes(rt));
  api.route('/', audioRoutes(rt));
  if (deps.imageStore) api.route('/', imageRoutes(rt, deps.imageStore));
  api.route('/', modelRoutes(rt));
  api.route('/', billingRoutes(rt));
  app.route('/v1', api);
  if (rt.admin) app.route('/', adminRoutes(rt, rt.admin));

  app.notFound((c) => {
    const record = c.get('record');
    if (record) record.errorCode ??= 'not_found';
    return errorResponse(
      c,
      new RelayError(404, 'not_found', `Unknown endpoint: ${c.req.method} ${c.req.path}`),
    );
  });
  app.onError((err, c) => {
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
  });
  return app;
}
