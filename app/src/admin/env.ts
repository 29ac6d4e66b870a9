import type { RelayRuntime } from '../runtime.ts';
import type { AdminStore } from '../store/admin-types.ts';
import type { AppEnv } from '../types.ts';
import type { DayCalendar } from '../usage/days.ts';

/** Who is calling the admin API: an admin key's name, by key (scripts) or by session (console). */
export interface AdminIdentity {
  readonly name: string;
  readonly via: 'key' | 'session';
  /** Session logins only: the session's CSRF token and end. */
  readonly session?: {
    readonly idHash: string;
    readonly csrfToken: string;
    readonly expiresAt: number;
  };
}

export interface AdminEnv {
  Variables: AppEnv['Variables'] & { admin: AdminIdentity };
}

/** What every admin route works with. */
export interface AdminContext {
  readonly rt: RelayRuntime;
  readonly store: AdminStore;
  readonly calendar: DayCalendar;
}
