import type { ChannelConfig } from '../config.ts';
import { matchesAny } from './patterns.ts';

/** One way to serve a client's model: a channel and the name its upstream knows the model by. */
export interface Route {
  readonly channel: ChannelConfig;
  readonly upstreamModel: string;
}

/** Every enabled channel that serves `model`, directly or through a `modelMap` alias. */
export function routesFor(channels: readonly ChannelConfig[], model: string): Route[] {
  const routes: Route[] = [];
  for (const channel of channels) {
    if (!channel.enabled) continue;
    const mapped = Object.hasOwn(channel.modelMap, model) ? channel.modelMap[model] : undefined;
    if (mapped !== undefined) routes.push({ channel, upstreamModel: mapped });
    else if (matchesAny(channel.models, model)) routes.push({ channel, upstreamModel: model });
  }
  return routes;
}
