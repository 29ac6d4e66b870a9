/** The admin API from the browser: the session cookie travels by itself, the CSRF token by hand. */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let csrfToken: string | null = null;
let onLoggedOut: () => void = () => {};

export function configureSession(token: string | null, loggedOut: () => void): void {
  csrfToken = token;
  onLoggedOut = loggedOut;
}

export const BASE = '/admin/api';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(BASE + path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string };
    request_id?: string;
  } | null;
  if (!res.ok) {
    const error = new ApiError(
      res.status,
      json?.error?.code ?? 'http_error',
      json?.error?.message ?? `HTTP ${res.status}`,
      json?.request_id ?? null,
    );
    if (res.status === 401 && path !== '/session') onLoggedOut();
    throw error;
  }
  return json as T;
}

/** `?a=1&b=2` from the values that are set. */
export function query(
  params: Readonly<Record<string, string | number | undefined | null>>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
