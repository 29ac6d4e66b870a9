import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Audit } from './audit.ts';
import type { AdminAuth } from './auth.ts';
import {
  SESSION_COOKIE,
  authError,
  newToken,
  sessionHash,
  sessionKeyTag,
  throttleScope,
} from './auth.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { LoginSchema, SessionSchema, commonErrors, jsonBody, jsonResponse } from './schemas.ts';

const tags = ['Session'];
const COOKIE_PATH = '/admin';

/** POST /session logs in; it is public, so it must be registered before the auth middleware. */
export function registerLoginRoute(
  api: OpenAPIHono<AdminEnv>,
  ctx: AdminContext,
  auth: AdminAuth,
  audit: Audit,
) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/session',
      tags,
      summary: 'Log in with an admin key: sets the session cookie, answers the CSRF token',
      security: [],
      request: { body: jsonBody(LoginSchema) },
      responses: { 200: jsonResponse(SessionSchema, 'Logged in'), ...commonErrors },
    }),
    async (c) => {
      await auth.assertNotThrottled(c);
      const key = auth.keyOf(c.req.valid('json').key);
      if (!key) {
        await auth.recordFailure(c, 'failed login');
        // The same answer as a wrong Bearer key: nothing tells an attacker more.
        throw authError('Incorrect admin key provided.');
      }
      const name = key.name;
      await ctx.store.throttle.clear(throttleScope(auth.address(c)));
      const now = ctx.rt.clock.now();
      const id = newToken();
      const session = {
        idHash: sessionHash(id),
        admin: name,
        keyTag: sessionKeyTag(id, key.hash),
        csrfToken: newToken(),
        createdAt: now,
        expiresAt: now + ctx.rt.config.admin.sessionHours * 3_600_000,
      };
      await ctx.store.sessions.create(session);
      setCookie(c, SESSION_COOKIE, id, {
        httpOnly: true,
        secure: auth.secureCookies(c),
        sameSite: 'Strict',
        path: COOKIE_PATH,
        maxAge: Math.floor((session.expiresAt - now) / 1000),
      });
      c.set('admin', { name, via: 'session' });
      await audit(c, { action: 'session.login', target: name });
      return c.json(
        {
          admin: name,
          via: 'session' as const,
          csrfToken: session.csrfToken,
          expiresAt: new Date(session.expiresAt).toISOString(),
        },
        200,
      );
    },
  );
}

/** GET /session is public too: the console asks it at start, logged in or not. */
export function registerWhoAmIRoute(api: OpenAPIHono<AdminEnv>, auth: AdminAuth) {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/session',
      tags,
      summary:
        'Who is calling (admin null when not logged in); the console reads its CSRF token here',
      security: [],
      responses: { 200: jsonResponse(SessionSchema, 'The caller'), ...commonErrors },
    }),
    async (c) => {
      const admin = await auth.identify(c);
      return c.json(
        {
          admin: admin?.name ?? null,
          via: admin?.via ?? null,
          csrfToken: admin?.session?.csrfToken ?? null,
          expiresAt: admin?.session ? new Date(admin.session.expiresAt).toISOString() : null,
        },
        200,
      );
    },
  );
}

export function registerLogoutRoute(api: OpenAPIHono<AdminEnv>, audit: Audit, ctx: AdminContext) {
  api.openapi(
    createRoute({
      method: 'delete',
      path: '/session',
      tags,
      summary: 'Log out: the session ends on the server too',
      responses: { 204: { description: 'Logged out' }, ...commonErrors },
    }),
    async (c) => {
      // Also with an admin key in Authorization: the cookie sent alongside ends on the server.
      const cookie = getCookie(c, SESSION_COOKIE);
      const session = c.get('admin').session;
      if (session) await ctx.store.sessions.delete(session.idHash);
      if (cookie) {
        if (!session) await ctx.store.sessions.delete(sessionHash(cookie));
        deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH });
      }
      await audit(c, { action: 'session.logout', target: c.get('admin').name });
      return c.body(null, 204);
    },
  );
}
