import { createRoute, z } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ChannelConfig } from '../config.ts';
import { RelayError } from '../errors.ts';
import type { CircuitSnapshot } from '../routing/breaker.ts';
import type { ChannelStats } from '../store/admin-types.ts';
import type { Audit } from './audit.ts';
import { testChannel } from './channel-test.ts';
import type { AdminContext, AdminEnv } from './env.ts';
import { isoOrNull } from './money.ts';
import {
  ChannelNameParam,
  ChannelPatchSchema,
  ChannelSchema,
  ChannelTestResultSchema,
  ChannelTestSchema,
  commonErrors,
  conflict,
  jsonBody,
  jsonResponse,
  notFound,
} from './schemas.ts';

type ChannelView = z.infer<typeof ChannelSchema>;

const tags = ['Channels'];
const RECENT_MINUTES = 15;

function state(enabled: boolean, circuits: readonly CircuitSnapshot[]): ChannelView['state'] {
  if (!enabled) return 'disabled';
  // The channel-wide circuit refuses everything; a model's circuit only that model.
  const whole = circuits.find((c) => c.model === null);
  if (whole && whole.state === 'open') return 'open';
  return circuits.some((c) => c.state !== 'closed') ? 'degraded' : 'ok';
}

export function registerChannelRoutes(api: OpenAPIHono<AdminEnv>, ctx: AdminContext, audit: Audit) {
  const { rt } = ctx;
  const mustChannel = (name: string): ChannelConfig => {
    const channel = rt.config.channels.find((c) => c.name === name);
    if (!channel) {
      throw new RelayError(404, 'channel_not_found', `No channel named "${name}".`, {
        param: 'name',
      });
    }
    return channel;
  };
  const present = (channel: ChannelConfig, stats: ChannelStats | undefined): ChannelView => {
    const circuits = rt.breaker.snapshot().filter((s) => s.channel === channel.name);
    const override = rt.channelState.override(channel.name);
    const enabled = rt.channelState.isOn(channel);
    return {
      name: channel.name,
      type: channel.type,
      baseUrl: channel.baseUrl,
      models: [...channel.models],
      aliases: Object.keys(channel.modelMap),
      priority: channel.priority,
      weight: channel.weight,
      configEnabled: channel.enabled,
      enabled,
      override: override
        ? { enabled: override.enabled, by: override.actor, at: new Date(override.at).toISOString() }
        : null,
      state: state(enabled, circuits),
      // Whatever the breaker reports (it may learn new fields): no upstream messages in it.
      circuits: circuits.map((circuit) => ({ ...circuit })),
      recent: {
        windowMinutes: RECENT_MINUTES,
        requests: stats?.requests ?? 0,
        errors: stats?.errors ?? 0,
        errorRate: stats && stats.requests > 0 ? stats.errors / stats.requests : 0,
        latencyMs: stats?.latencyMs ?? { p50: null, p99: null },
        lastError: stats?.lastError
          ? { ...stats.lastError, at: isoOrNull(stats.lastError.at)! }
          : null,
      },
    };
  };
  const recent = async () => {
    const now = rt.clock.now();
    const stats = await ctx.store.usage.channels({
      fromMs: now - RECENT_MINUTES * 60_000,
      toMs: now + 1,
    });
    return new Map(stats.map((s) => [s.channel, s]));
  };

  api.openapi(
    createRoute({
      method: 'get',
      path: '/channels',
      tags,
      summary: 'Channels with their switch, circuits, recent error rate and latency',
      responses: {
        200: jsonResponse(
          z.object({ channels: z.array(ChannelSchema) }),
          'Channels in config order',
        ),
        ...commonErrors,
      },
    }),
    async (c) => {
      await rt.channelState.load();
      const stats = await recent();
      return c.json(
        { channels: rt.config.channels.map((ch) => present(ch, stats.get(ch.name))) },
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'patch',
      path: '/channels/{name}',
      tags,
      summary: 'Switch a channel off or on at runtime (kept across restarts)',
      request: { params: ChannelNameParam, body: jsonBody(ChannelPatchSchema) },
      responses: {
        200: jsonResponse(ChannelSchema, 'The channel after the switch'),
        ...commonErrors,
        ...notFound,
        ...conflict,
      },
    }),
    async (c) => {
      const channel = mustChannel(c.req.valid('param').name);
      const { enabled } = c.req.valid('json');
      if (enabled && !channel.enabled) {
        throw new RelayError(
          409,
          'channel_disabled_in_config',
          `Channel "${channel.name}" has "enabled": false in the config file; enable it there.`,
          { param: 'enabled' },
        );
      }
      const stats = await recent();
      const before = present(channel, stats.get(channel.name));
      await rt.channelState.set({
        channel: channel.name,
        enabled,
        actor: c.get('admin').name,
        at: rt.clock.now(),
      });
      const after = present(channel, stats.get(channel.name));
      await audit(c, {
        action: enabled ? 'channel.enable' : 'channel.disable',
        target: channel.name,
        before: { enabled: before.enabled },
        after: { enabled: after.enabled },
      });
      return c.json(after, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/channels/{name}/test',
      tags,
      summary: 'Send one tiny chat request to the channel now (no failover, no usage row)',
      request: {
        params: ChannelNameParam,
        body: { ...jsonBody(ChannelTestSchema), required: false },
      },
      responses: {
        200: jsonResponse(
          ChannelTestResultSchema,
          "The upstream's answer or error, and the latency",
        ),
        ...commonErrors,
        ...notFound,
      },
    }),
    async (c) => {
      const channel = mustChannel(c.req.valid('param').name);
      const { model } = c.req.valid('json');
      const result = await testChannel(rt, channel, model);
      // It spends a request of the provider's quota: who did it, and what came back.
      await audit(c, {
        action: 'channel.test',
        target: channel.name,
        after: {
          model: result.model,
          ok: result.ok,
          status: result.status,
          latencyMs: result.latencyMs,
        },
      });
      return c.json(result, 200);
    },
  );
}
