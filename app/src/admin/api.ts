import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hook } from '@hono/zod-openapi';
import { invalidRequest } from '../errors.ts';
import { addReplyHeaders } from '../middleware/reply-headers.ts';
import { auditor } from './audit.ts';
import { AdminAuth, CSRF_HEADER, SESSION_COOKIE } from './auth.ts';
import { registerChannelRoutes } from './channels.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { registerKeyRoutes } from './keys.ts';
import { registerOverviewRoute } from './overview.ts';
import { registerRequestRoutes } from './requests.ts';
import { registerLoginRoute, registerLogoutRoute, registerWhoAmIRoute } from './session.ts';
import { registerUsageRoutes } from './usage.ts';

/** Bad input gets the relay's one error shape, naming the field. */
const validationHook: Hook<unknown, AdminEnv, string, unknown> = (result) => {
  if (result.success) return;
  const issues = result.error.issues;
  const where = (path: readonly PropertyKey[]) => path.map(String).join('.');
  const message = issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${where(i.path)}: ${i.message}` : i.message))
    .join('; ');
  throw invalidRequest(
    `Invalid ${result.target}: ${message}`,
    issues[0] ? where(issues[0].path) || null : null,
  );
};

export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'llm-relay admin API',
    version: '1',
    description:
      'Keys, usage, channels, requests and the audit log of one relay. Authenticate with ' +
      "`Authorization: Bearer <admin key>`, or with the console's session cookie plus its " +
      `\`${CSRF_HEADER}\` header on changes. Errors have the relay's usual shape.`,
  },
  servers: [{ url: '/admin/api' }],
  security: [{ adminKey: [] as string[] }, { session: [] as string[] }] as Record<
    string,
    string[]
  >[],
};

/** The JSON API under /admin/api, described by the OpenAPI document it serves. */
export function adminApi(ctx: AdminContext): OpenAPIHono<AdminEnv> {
  const api = new OpenAPIHono<AdminEnv>({ defaultHook: validationHook });
  const auth = new AdminAuth(ctx);
  const audit = auditor(ctx, auth);
  api.openAPIRegistry.registerComponent('securitySchemes', 'adminKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'An admin key (ADMIN_KEY or admin.keys); client keys never work here',
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
  });

  // With the relay's own headers, which reach every answer, errors included. Set on an answer
  // after it is made, Hono would copy that answer into a new Response, which the edge would take
  // for one still without the relay's headers and stamp again (Vary twice).
  api.use((c, next) => {
    addReplyHeaders(c, { 'cache-control': 'no-store' });
    return next();
  });
  // Public: the document, logging in, and asking whether one is.
  api.doc31('/openapi.json', OPENAPI_INFO);
  registerLoginRoute(api, ctx, auth, audit);
  registerWhoAmIRoute(api, auth);

  api.use(auth.middleware());
  registerLogoutRoute(api, audit, ctx);
  registerOverviewRoute(api, ctx);
  registerKeyRoutes(api, ctx, audit);
  registerUsageRoutes(api, ctx);
  registerChannelRoutes(api, ctx, audit);
  registerRequestRoutes(api, ctx);
  return api;
}
