import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { RelayError } from '../errors.ts';
import { keyFromHeaders } from '../middleware/auth.ts';
import { hashKey } from '../store/secrets.ts';
import type { AdminContext, AdminEnv, AdminIdentity } from './env.ts';

export const SESSION_COOKIE = 'relay_admin';
export const CSRF_HEADER = 'x-csrf-token';

/** Failed logins (or wrong admin keys) allowed per client address in the window. */
export const MAX_FAILURES = 10;
export const FAILURE_WINDOW_MS = 15 * 60_000;

const sha256 = (value: string) => hash('sha256', value, 'buffer');

const sameSecret = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));

export const newToken = () => randomBytes(32).toString('base64url');

export const sessionHash = (id: string) => hashKey(id);

/**
 * Ties a session to the admin key that opened it, so rotating or removing that key ends the
 * session. The store gets an HMAC of the key's hash under the session id, which it only holds
 * hashed: a copy of the database reveals neither the key nor a way to test guesses of it.
 */
export const sessionKeyTag = (sessionId: string, keyHash: string) =>
  createHmac('sha256', sessionId).update(keyHash, 'utf8').digest('hex');

export const authError = (message: string, code = 'invalid_admin_key') =>
  new RelayError(401, code, message, { type: 'authentication_error' });

/**
 * The client's address as far as the relay can tell. Behind CloudFront (an origin secret is
 * set) the last X-Forwarded-For entry is the one CloudFront added; anything before it is what
 * the client claimed. Without a CDN, the socket's address.
 */
export function clientAddress(c: Context, behindCdn: boolean): string {
  if (behindCdn) {
    const hops = c.req.header('x-forwarded-for')?.split(',');
    const last = hops?.[hops.length - 1]?.trim();
    if (last) return last;
  }
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)
    ?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * What failed logins are counted against: the address, or for IPv6 its /64, since one client
 * usually holds a whole /64 and could otherwise try from a fresh address each time.
 */
export function throttleScope(address: string): string {
  const ip = address.split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return address;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export class AdminAuth {
  readonly #ctx: AdminContext;

  constructor(ctx: AdminContext) {
    this.#ctx = ctx;
  }

  get #behindCdn(): boolean {
    return this.#ctx.rt.config.server.originSecret !== undefined;
  }

  address(c: Context): string {
    return clientAddress(c, this.#behindCdn);
  }

  #scope(c: Context): string {
    return throttleScope(this.address(c));
  }

  /** The admin key's name and hash, or null. Every configured hash is compared, in constant time. */
  keyOf(secret: string): { name: string; hash: string } | null {
    const hash = hashKey(secret);
    let found: { name: string; hash: string } | null = null;
    for (const k of this.#ctx.rt.config.admin.keys)
      if (sameSecret(k.hash, hash)) found ??= { name: k.name, hash: k.hash };
    return found;
  }

  keyName(secret: string): string | null {
    return this.keyOf(secret)?.name ?? null;
  }

  /** Whether the key that opened the session is still configured, under the same name. */
  #stillKeyed(sessionId: string, admin: string, keyTag: string | null): boolean {
    let keyed = false;
    for (const k of this.#ctx.rt.config.admin.keys) {
      if (
        keyTag !== null &&
        k.name === admin &&
        sameSecret(sessionKeyTag(sessionId, k.hash), keyTag)
      )
        keyed = true;
    }
    return keyed;
  }

  /** 429 once an address has failed too often; the window slides, so waiting works. */
  async assertNotThrottled(c: Context): Promise<void> {
    const now = this.#ctx.rt.clock.now();
    const failures = await this.#ctx.store.throttle.failures(
      this.#scope(c),
      now - FAILURE_WINDOW_MS,
    );
    if (failures >= MAX_FAILURES) {
      throw new RelayError(
        429,
        'too_many_failed_logins',
        'Too many failed admin logins from this address. Try again in 15 minutes.',
        { headers: { 'retry-after': String(FAILURE_WINDOW_MS / 1000) } },
      );
    }
  }

  async recordFailure(c: Context, what: string): Promise<void> {
    const ip = this.address(c);
    await this.#ctx.store.throttle.recordFailure(throttleScope(ip), this.#ctx.rt.clock.now());
    this.#ctx.rt.logger.warn({ requestId: c.get('requestId'), ip }, `admin: ${what}`);
  }

  /** Secure unless the relay is reached over plain HTTP without a CDN (a laptop, a test). */
  secureCookies(c: Context): boolean {
    return (
      this.#behindCdn ||
      new URL(c.req.url).protocol === 'https:' ||
      c.req.header('x-forwarded-proto') === 'https' ||
      c.req.header('cloudfront-forwarded-proto') === 'https'
    );
  }

  /**
   * An admin key in Authorization (scripts), or the console's session cookie; a change made
   * with the cookie must also carry the session's CSRF token, which only a page that could
   * read the session answer knows.
   */
  middleware(): MiddlewareHandler<AdminEnv> {
    return async (c, next) => {
      const identity = await this.identify(c);
      if (!identity) {
        throw authError(
          "Log in first, or send an admin key as 'Authorization: Bearer ADMIN_KEY'.",
          'admin_auth_required',
        );
      }
      c.set('admin', identity);
      const record = c.get('record');
      if (record) record.keyName = `admin:${identity.name}`;
      return next();
    };
  }

  /** The caller, or null when it sent no credentials at all; wrong ones are an error. */
  async identify(c: Context<AdminEnv>): Promise<AdminIdentity | null> {
    if (this.#ctx.rt.config.admin.keys.length === 0) {
      throw authError(
        'No admin key is configured: set ADMIN_KEY (or admin.keys in the config file) and restart.',
        'admin_not_configured',
      );
    }
    const bearer = keyFromHeaders((n) => c.req.header(n));
    if (bearer) {
      await this.assertNotThrottled(c);
      const name = this.keyName(bearer);
      if (!name) {
        await this.recordFailure(c, 'wrong admin key');
        throw authError('Incorrect admin key provided.');
      }
      return { name, via: 'key' };
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (!cookie) return null;
    const session = await this.#ctx.store.sessions.find(
      sessionHash(cookie),
      this.#ctx.rt.clock.now(),
    );
    if (!session) return null;
    if (!this.#stillKeyed(cookie, session.admin, session.keyTag)) {
      await this.#ctx.store.sessions.delete(session.idHash);
      return null;
    }
    if (!['GET', 'HEAD'].includes(c.req.method)) {
      const token = c.req.header(CSRF_HEADER);
      if (!token || !sameSecret(token, session.csrfToken)) {
        throw new RelayError(
          403,
          'csrf_token_invalid',
          `Changes made with the session cookie need the session's ${CSRF_HEADER} header.`,
          { type: 'permission_error' },
        );
      }
    }
    return {
      name: session.admin,
      via: 'session',
      session: {
        idHash: session.idHash,
        csrfToken: session.csrfToken,
        expiresAt: session.expiresAt,
      },
    };
  }
}
