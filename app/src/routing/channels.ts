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

/** The concrete model ids a client may ask for: literal model names and aliases, no patterns. */
export function listModelIds(channels: readonly ChannelConfig[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const ch of channels) {
    if (!ch.enabled) continue;
    for (const m of ch.models) if (!m.includes('*') && !ids.has(m)) ids.set(m, ch.name);
    for (const alias of Object.keys(ch.modelMap)) if (!ids.has(alias)) ids.set(alias, ch.name);
  }
  return ids;
}
