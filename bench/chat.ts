import { RELAY_NODE_ENV } from '../app/src/node-flags.ts';

/**
 * What every bench's relay and floor run with: the chat request sent, the keys of the relay and
 * the upstream, the client key's config entry and the model's price, and each process's env.
 */
export const UPSTREAM_KEY = 'sk-bench-upstream-0123456789';
export const CLIENT_KEY = 'sk-bench-client-0123456789';
export const MODEL = 'gpt-4o-mini';
export const PRICE = { input: 0.15, output: 0.6 };
/** A quota, so every request holds and settles it (1e9 USD never runs out). */
export const CLIENT_KEY_CONFIG = { name: 'bench', key: CLIENT_KEY, quota: 1e9, models: ['*'] };

export function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say hello.' }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/** The relay's env (besides PATH): its config, data folder and port, info logs, as shipped. */
export function relayEnv(configPath: string, dataDir: string, port: number) {
  return {
    RELAY_CONFIG: configPath,
    RELAY_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    BENCH_UPSTREAM_KEY: UPSTREAM_KEY,
    ...RELAY_NODE_ENV,
  };
}

/** bench/floor-proxy.ts's env (besides PATH), for an upstream base URL ending in /v1. */
export function floorEnv(base: string) {
  return { FLOOR_UPSTREAM: base, FLOOR_UPSTREAM_KEY: UPSTREAM_KEY, ...RELAY_NODE_ENV };
}
