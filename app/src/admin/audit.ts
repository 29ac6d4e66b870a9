import type { Context } from 'hono';
import type { AdminAuth } from './auth.ts';
import type { AdminContext, AdminEnv } from './env.ts';

export interface AuditInput {
  readonly action: string;
  readonly target: string | null;
  readonly before?: unknown;
  readonly after?: unknown;
}

export type Audit = (c: Context<AdminEnv>, entry: AuditInput) => Promise<void>;

/**
 * One audit row per admin change: who, what, before and after. Callers pass presented records
 * (key hints, never key secrets), so nothing secret can reach the table.
 */
export function auditor(ctx: AdminContext, auth: AdminAuth): Audit {
  return async (c, entry) => {
    await ctx.store.audit.append({
      at: ctx.rt.clock.now(),
      actor: c.get('admin').name,
      action: entry.action,
      target: entry.target,
      before: entry.before ?? null,
      after: entry.after ?? null,
      requestId: c.get('requestId'),
      ip: auth.address(c),
    });
  };
}
