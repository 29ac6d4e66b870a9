import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { parseExpiry } from '../cli/parse.ts';
import { RelayError, invalidRequest } from '../errors.ts';
import type { KeyPatch, UsageGroupRow } from '../store/admin-types.ts';
import type { KeyRecord } from '../store/types.ts';
import { StoreError } from '../store/types.ts';
import { addDays } from '../usage/days.ts';
import type { Audit } from './audit.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { keyFacts } from './key-facts.ts';
import { isoOrNull, usd } from './money.ts';
import {
  CreateKeySchema,
  CreatedKeySchema,
  KeyNameParam,
  KeySchema,
  TopUpSchema,
  UpdateKeySchema,
  commonErrors,
  conflict,
  jsonBody,
  jsonResponse,
  notFound,
} from './schemas.ts';
import { z } from '@hono/zod-openapi';

type KeyView = z.infer<typeof KeySchema>;

const tags = ['Keys'];

const keyNotFound = (name: string) =>
  new RelayError(404, 'key_not_found', `No key named "${name}".`, { param: 'name' });

const storeConflict = (err: unknown): never => {
  if (err instanceof StoreError) throw new RelayError(409, 'conflict', err.message);
  throw err;
};

/** Usage of every key from the rollups: today, and the 30 days up to today. */
async function keyUsage(ctx: AdminContext) {
  const today = ctx.calendar.dayOf(ctx.rt.clock.now());
  const [month, day] = await Promise.all([
    ctx.store.usage.report({ fromDay: addDays(today, -29), toDay: today, groupBy: 'key' }),
    ctx.store.usage.report({ fromDay: today, toDay: today, groupBy: 'key' }),
  ]);
  const byName = (rows: UsageGroupRow[]) => new Map(rows.map((r) => [r.group, r]));
  return { last30: byName(month), today: byName(day) };
}

function present(
  ctx: AdminContext,
  k: KeyRecord,
  usage: Awaited<ReturnType<typeof keyUsage>>,
  lastUsed: Map<number, number>,
): KeyView {
  const last30 = usage.last30.get(k.name);
  return {
    ...keyFacts(k),
    source: ctx.rt.config.keys.some((c) => c.name === k.name) ? 'config' : 'console',
    lastUsedAt: isoOrNull(lastUsed.get(k.id)),
    usage: {
      todayUsd: usd(usage.today.get(k.name)?.costMicros ?? 0),
      last30Days: {
        requests: last30?.requests ?? 0,
        errors: last30?.errors ?? 0,
        costUsd: usd(last30?.costMicros ?? 0),
      },
    },
  };
}

/** Key as the audit log keeps it: the presented view without the moving usage numbers. */
const auditView = (k: KeyView) => {
  const { usage: _usage, lastUsedAt: _lastUsedAt, reservedUsd: _reserved, ...rest } = k;
  return rest;
};

const expiry = (value: string | null | undefined) =>
  value === undefined ? undefined : value === null ? null : parseExpiry(value);

export function registerKeyRoutes(api: OpenAPIHono<AdminEnv>, ctx: AdminContext, audit: Audit) {
  const keys = ctx.store.keys;
  const view = async (k: KeyRecord) =>
    present(ctx, k, await keyUsage(ctx), await ctx.store.usage.lastUsed([k.id]));
  const mustKey = async (name: string) => {
    const k = await keys.get(name);
    if (!k) throw keyNotFound(name);
    return k;
  };
  const configured = (name: string) => ctx.rt.config.keys.find((c) => c.name === name);
  /** Config-file keys are written again at every start; a change here would quietly revert. */
  const mustBeEditable = (name: string) => {
    if (configured(name)) {
      throw new RelayError(
        409,
        'key_managed_by_config',
        `Key "${name}" comes from the config file, which sets it again at every start: change it there (it can only be disabled or enabled here).`,
        { param: 'name' },
      );
    }
  };
  /**
   * A config key can be switched off and on here (the store remembers it across starts), but
   * one the config file itself disables stays off: enabling it here would not survive a start.
   */
  const mustBeSwitchable = (name: string, enabled: boolean) => {
    if (enabled && configured(name)?.enabled === false) {
      throw new RelayError(
        409,
        'key_disabled_in_config',
        `Key "${name}" is disabled in the config file ("enabled": false): enable it there.`,
        { param: 'name' },
      );
    }
  };

  api.openapi(
    createRoute({
      method: 'get',
      path: '/keys',
      tags,
      summary: 'List client keys with their spend and usage',
      responses: {
        200: jsonResponse(z.object({ keys: z.array(KeySchema) }), 'Every key, by name'),
        ...commonErrors,
      },
    }),
    async (c) => {
      const list = await keys.list();
      const [usage, lastUsed] = await Promise.all([
        keyUsage(ctx),
        ctx.store.usage.lastUsed(list.map((k) => k.id)),
      ]);
      return c.json({ keys: list.map((k) => present(ctx, k, usage, lastUsed)) }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/keys',
      tags,
      summary: 'Create a client key (the key is in this answer only)',
      request: { body: jsonBody(CreateKeySchema) },
      responses: {
        201: jsonResponse(CreatedKeySchema, 'The new key and its secret, shown once'),
        ...commonErrors,
        ...conflict,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const expiresAt = expiry(body.expiresAt) ?? null;
      if (expiresAt !== null && expiresAt <= ctx.rt.clock.now()) {
        throw invalidRequest(
          "'expiresAt' is in the past: the key would be expired before its first use.",
          'expiresAt',
        );
      }
      const { record, secret } = await keys
        .create({
          name: body.name,
          quotaUsd: body.quotaUsd ?? null,
          models: body.models ?? ['*'],
          expiresAt,
          rpm: body.rpm ?? null,
          tpm: body.tpm ?? null,
        })
        .catch(storeConflict);
      const key = await view(record);
      await audit(c, { action: 'key.create', target: record.name, after: auditView(key) });
      c.header('cache-control', 'no-store');
      return c.json({ key, secret }, 201);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/keys/{name}',
      tags,
      summary: 'One key',
      request: { params: KeyNameParam },
      responses: { 200: jsonResponse(KeySchema, 'The key'), ...commonErrors, ...notFound },
    }),
    async (c) => c.json(await view(await mustKey(c.req.valid('param').name)), 200),
  );

  api.openapi(
    createRoute({
      method: 'patch',
      path: '/keys/{name}',
      tags,
      summary:
        'Change quota, models, expiry, rpm, tpm, or disable and enable (config-file keys: enabled only)',
      request: { params: KeyNameParam, body: jsonBody(UpdateKeySchema) },
      responses: {
        200: jsonResponse(KeySchema, 'The key after the change'),
        ...commonErrors,
        ...notFound,
        ...conflict,
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      if (Object.values(body).every((v) => v === undefined)) {
        throw invalidRequest(
          'Nothing to change: send at least one of quotaUsd, models, expiresAt, rpm, tpm, enabled.',
        );
      }
      const before = await view(await mustKey(name));
      const { enabled, ...fields } = body;
      if (Object.values(fields).some((v) => v !== undefined)) mustBeEditable(name);
      if (enabled !== undefined) mustBeSwitchable(name, enabled);
      const patch: KeyPatch = {
        ...(body.quotaUsd !== undefined && { quotaUsd: body.quotaUsd }),
        ...(body.models !== undefined && { models: body.models }),
        ...(body.expiresAt !== undefined && { expiresAt: expiry(body.expiresAt) }),
        ...(body.rpm !== undefined && { rpm: body.rpm }),
        ...(body.tpm !== undefined && { tpm: body.tpm }),
        ...(body.enabled !== undefined && { enabled: body.enabled }),
      };
      const after = await view(await keys.update(name, patch).catch(storeConflict));
      await audit(c, {
        action: 'key.update',
        target: name,
        before: auditView(before),
        after: auditView(after),
      });
      return c.json(after, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/keys/{name}/topup',
      tags,
      summary: "Add to a key's quota",
      request: { params: KeyNameParam, body: jsonBody(TopUpSchema) },
      responses: {
        200: jsonResponse(KeySchema, 'The key after the top-up'),
        ...commonErrors,
        ...notFound,
        ...conflict,
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { amountUsd } = c.req.valid('json');
      const before = await view(await mustKey(name));
      mustBeEditable(name);
      const after = await view(await keys.topUp(name, amountUsd).catch(storeConflict));
      await audit(c, {
        action: 'key.topup',
        target: name,
        before: auditView(before),
        after: { ...auditView(after), amountUsd },
      });
      return c.json(after, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'delete',
      path: '/keys/{name}',
      tags,
      summary: 'Delete a key (its usage rows stay)',
      request: { params: KeyNameParam },
      responses: { 204: { description: 'Deleted' }, ...commonErrors, ...notFound, ...conflict },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const before = await view(await mustKey(name));
      mustBeEditable(name);
      await keys.delete(name);
      await audit(c, { action: 'key.delete', target: name, before: auditView(before) });
      return c.body(null, 204);
    },
  );
}
