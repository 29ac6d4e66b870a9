import type { ChannelConfig } from '../config.ts';
import { matchesAny } from './patterns.ts';

/** One way to serve a client's model: a channel and the name its upstream knows the model by. */
export interface Route {
  readonly channel: ChannelConfig;
  readonly upstreamModel: string;
}

/**
 * Every usable channel that serves `model`, directly or through a `modelMap` alias. Usable
 * means enabled in the config, unless the caller knows better (channels switched at runtime).
 */
export function routesFor(
  channels: readonly ChannelConfig[],
  model: string,
  usable: (channel: ChannelConfig) => boolean = (channel) => channel.enabled,
): Route[] {
  const routes: Route[] = [];
  for (const channel of channels) {
    if (!usable(channel)) continue;
    const mapped = Object.hasOwn(channel.modelMap, model) ? channel.modelMap[model] : undefined;
    if (mapped !== undefined) routes.push({ channel, upstreamModel: mapped });
    else if (matchesAny(channel.models, model)) routes.push({ channel, upstreamModel: model });
  }
  return routes;
}
