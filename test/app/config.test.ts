import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseRelayConfig } from '../../app/src/config.ts';
import { createStore } from '../../app/src/store/create-store.ts';

describe('relay config', () => {
  it('accepts the documented shape and resolves env: secrets', () => {
    const cfg = parseRelayConfig(
      {
        channels: [
          {
            name: 'deepseek',
            type: 'openai',
            baseUrl: 'https://api.deepseek.com/v1',
            apiKey: 'env:DEEPSEEK_API_KEY',
            models: ['deepseek-chat', 'deepseek-reasoner'],
            modelMap: { 'deepseek-r1': 'deepseek-reasoner' },
            priority: 0,
            weight: 1,
          },
        ],
        keys: [{ name: 'alice', key: 'sk-alice-0123456789abcdef', quota: 5.0, models: ['*'] }],
        prices: { 'deepseek-chat': { input: 0.27, output: 1.1 } },
        images: { store: 'local' },
      },
      { DEEPSEEK_API_KEY: 'sk-ds' },
    );
    expect(cfg.channels[0]).toMatchObject({ apiKey: 'sk-ds', timeouts: { firstByteMs: 60_000 } });
    expect(cfg.keys[0]?.quota).toBe(5);
  });

  it('with no channels listed, picks providers up from well-known environment variables', () => {
    const cfg = parseRelayConfig(
      {},
      {
        OPENAI_API_KEY: 'sk-o',
        OPENAI_BASE_URL: 'http://127.0.0.1:1/v1',
        DEEPSEEK_API_KEY: 'sk-d',
      },
    );
    expect(cfg.channels.map((c) => [c.name, c.baseUrl, c.apiKey])).toEqual([
      ['openai', 'http://127.0.0.1:1/v1', 'sk-o'],
      ['deepseek', 'https://api.deepseek.com/v1', 'sk-d'],
    ]);
    expect(cfg.channels[1]?.models).toEqual(['deepseek-*']);
    expect(parseRelayConfig({}, {}).channels).toEqual([]);
  });

  it('store: SQLite by default, DynamoDB by name with a table prefix, anything else refused', async () => {
    expect(parseRelayConfig({}, {}).store).toEqual({ type: 'sqlite', holdLeaseMs: 900_000 });
    const fleet = parseRelayConfig({ store: { type: 'dynamodb', region: 'eu-west-1' } }, {});
    expect(fleet.store).toMatchObject({ type: 'dynamodb', tablePrefix: 'llm-relay-' });
    expect(() => parseRelayConfig({ store: { type: 'redis' } }, {})).toThrow(/store\.type/);
    expect(() => parseRelayConfig({ store: { type: 'sqlite', holdLeaseMs: 5_000 } }, {})).toThrow(
      /store\.holdLeaseMs/,
    );
    expect(() =>
      parseRelayConfig({ keys: [{ name: 'k', key: 'sk-0123456789abcdef', tpm: 0 }] }, {}),
    ).toThrow(/keys\.0\.tpm/);
    // Opening it makes no call to AWS: the tables are first touched by the first request.
    const store = await createStore(fleet, { dataDir: '/nonexistent' });
    expect(store.keys).toBeDefined();
    await store.close();
  });

  it('a bedrock channel takes a region (and maybe an endpoint), no key and no base URL', () => {
    const [channel] = parseRelayConfig(
      {
        channels: [
          { name: 'br', type: 'bedrock', region: 'eu-west-1', models: ['amazon.nova-pro-v1:0'] },
        ],
      },
      {},
    ).channels;
    expect(channel).toMatchObject({
      type: 'bedrock',
      region: 'eu-west-1',
      baseUrl: 'https://bedrock-runtime.eu-west-1.amazonaws.com',
      apiKey: '',
    });
    const local = parseRelayConfig(
      {
        channels: [
          { name: 'br', type: 'bedrock', region: 'us-east-1', endpoint: 'http://127.0.0.1:4566' },
        ],
      },
      {},
    ).channels[0];
    expect(local?.baseUrl).toBe('http://127.0.0.1:4566');
    const refused = (channel: Record<string, unknown>) => () =>
      parseRelayConfig({ channels: [{ name: 'br', ...channel }] }, {});
    expect(refused({ type: 'bedrock' })).toThrow(
      /channels\.0\.region: a bedrock channel needs its AWS region/,
    );
    expect(refused({ type: 'bedrock', region: 'us-east-1', apiKey: 'env:X' })).toThrow(
      /channels\.0\.apiKey: a bedrock channel takes no apiKey/,
    );
    expect(refused({ type: 'bedrock', region: 'Frankfurt' })).toThrow(
      /an AWS region such as us-east-1/,
    );
    expect(
      refused({
        baseUrl: 'https://api.example.com/v1',
        apiKey: 'sk-0123456789abcdef',
        region: 'us-east-1',
      }),
    ).toThrow(/channels\.0\.region: only bedrock channels take this/);
  });

  it('makes GEMINI_API_KEY a native gemini channel, with Imagen on Gemini’s OpenAI endpoint', () => {
    const cfg = parseRelayConfig({}, { GEMINI_API_KEY: 'AIza-g' });
    expect(cfg.channels.map((c) => [c.name, c.type, c.baseUrl, c.apiKey, c.models])).toEqual([
      [
        'gemini',
        'gemini',
        'https://generativelanguage.googleapis.com/v1beta',
        'AIza-g',
        ['gemini-*'],
      ],
      [
        'gemini-images',
        'openai',
        'https://generativelanguage.googleapis.com/v1beta/openai',
        'AIza-g',
        ['imagen-*'],
      ],
    ]);
  });

  it('breaker thresholds: documented defaults, overrides, and a clear error for a bad one', () => {
    expect(parseRelayConfig({}, {}).server.breaker).toEqual({
      windowMs: 30_000,
      minimumCalls: 20,
      failureRate: 0.5,
      consecutiveFailures: 5,
      connectFailures: 3,
      modelsToOpenChannel: 2,
      cooldownMs: 30_000,
      maxCooldownMs: 600_000,
      deadProbeIntervalMs: 300_000,
      probeLeaseMs: 180_000,
    });
    const tuned = parseRelayConfig(
      { server: { breaker: { failureRate: 0.25, probeLeaseMs: 90_000 } } },
      {},
    );
    expect(tuned.server.breaker).toMatchObject({
      failureRate: 0.25,
      minimumCalls: 20,
      probeLeaseMs: 90_000,
    });
    expect(() => parseRelayConfig({ server: { breaker: { failureRate: 50 } } }, {})).toThrow(
      'server.breaker.failureRate',
    );
    expect(() => parseRelayConfig({ server: { breaker: { threshold: 5 } } }, {})).toThrow(
      'threshold',
    );
  });

  it('refuses breaker settings that make no sense together, naming the setting', () => {
    const refused = (breaker: Record<string, number>) => () =>
      parseRelayConfig({ server: { breaker } }, {});
    expect(refused({ cooldownMs: 0 })).toThrow(/server\.breaker\.cooldownMs: cooldownMs must be/);
    expect(refused({ maxCooldownMs: 0 })).toThrow(
      /server\.breaker\.maxCooldownMs: maxCooldownMs \(0\) must be at least cooldownMs \(30000\)/,
    );
    expect(refused({ cooldownMs: 60_000, maxCooldownMs: 30_000 })).toThrow(
      'server.breaker.maxCooldownMs',
    );
    expect(refused({ minimumCalls: 1, consecutiveFailures: 50 })).toThrow(
      /server\.breaker\.consecutiveFailures: consecutiveFailures \(50\) must not exceed minimumCalls \(1\)/,
    );
    expect(
      parseRelayConfig(
        {
          server: {
            breaker: { minimumCalls: 5, consecutiveFailures: 5, cooldownMs: 1, maxCooldownMs: 1 },
          },
        },
        {},
      ).server.breaker,
    ).toMatchObject({ minimumCalls: 5, consecutiveFailures: 5 });
  });

  it('refuses a provider key with a line break, without ever quoting it', () => {
    const input = { channels: [{ name: 'x', baseUrl: 'https://a', apiKey: 'env:K' }] };
    const attempt = () => parseRelayConfig(input, { K: 'sk-proj-TOPSECRET\nline2' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow('channels.0.apiKey');
    expect(attempt).not.toThrow(/TOPSECRET/);
  });

  it.each([
    [
      'a zero-width space in a provider key',
      { channels: [{ name: 'x', baseUrl: 'https://a', apiKey: 'sk-abc\u200bdef' }] },
      'channels.0.apiKey',
    ],
    [
      'a bad header name',
      {
        channels: [{ name: 'x', baseUrl: 'https://a', apiKey: 'k', headers: { 'bad name': 'v' } }],
      },
      'not a valid header name',
    ],
    [
      'a client key with a trailing newline',
      { keys: [{ name: 'a', key: 'env:NL_KEY' }] },
      'keys.0.key',
    ],
  ])('refuses %s', (_what, input, needle) => {
    expect(() => parseRelayConfig(input, { NL_KEY: 'sk-0123456789abcdef\n' })).toThrow(needle);
  });

  it.each([
    [{ channels: [{ name: 'x', baseUrl: 'not a url', apiKey: 'k' }] }, 'channels.0.baseUrl'],
    [{ channels: [{ name: 'x', baseUrl: 'https://a', apiKey: 'env:MISSING_VAR' }] }, 'MISSING_VAR'],
    [{ keys: [{ name: 'a', key: 'short' }] }, 'keys.0.key'],
    [{ keys: [{ name: 'a', key: 'env:SHORT_KEY' }] }, 'keys.0.key'],
    [
      {
        keys: [
          { name: 'a', key: 'sk-0123456789abcdef' },
          { name: 'a', key: 'sk-0123456789abcdeg' },
        ],
      },
      'duplicate key name',
    ],
    [{ prices: { m: { input: -1 } } }, 'prices.m.input'],
    [{ surprise: true }, 'surprise'],
  ])('rejects %j naming the bad setting', (input, needle) => {
    const env = { SHORT_KEY: 'tiny' };
    expect(() => parseRelayConfig(input, env)).toThrow(ConfigError);
    expect(() => parseRelayConfig(input, env)).toThrow(needle);
  });

  describe('server.workers', () => {
    it('is one process unless asked: a count, or "auto" for every available CPU', () => {
      expect(parseRelayConfig({}, {}).server.workers).toBe(1);
      expect(parseRelayConfig({ server: { workers: 3 } }, {}).server.workers).toBe(3);
      expect(parseRelayConfig({ server: { workers: 'auto' } }, {}).server.workers).toBe(
        availableParallelism(),
      );
    });

    it('RELAY_WORKERS overrides the file with the same values; an empty one is unset', () => {
      const file = { server: { workers: 3 } };
      expect(parseRelayConfig(file, { RELAY_WORKERS: '2' }).server.workers).toBe(2);
      expect(parseRelayConfig(file, { RELAY_WORKERS: 'auto' }).server.workers).toBe(
        availableParallelism(),
      );
      expect(parseRelayConfig(file, { RELAY_WORKERS: '' }).server.workers).toBe(3);
    });

    it.each([0, -1, 1.5, 'all', '2', 1000])('rejects server.workers = %j, naming it', (workers) => {
      expect(() => parseRelayConfig({ server: { workers } }, {})).toThrow(ConfigError);
      expect(() => parseRelayConfig({ server: { workers } }, {})).toThrow('server.workers');
    });

    it.each(['0', 'many', '1.5', '-2', '1000'])('rejects RELAY_WORKERS=%s, naming it', (value) => {
      expect(() => parseRelayConfig({}, { RELAY_WORKERS: value })).toThrow(ConfigError);
      expect(() => parseRelayConfig({}, { RELAY_WORKERS: value })).toThrow('RELAY_WORKERS');
    });
  });
});
