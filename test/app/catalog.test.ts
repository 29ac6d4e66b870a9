import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../app/src/config.ts';
import { createLogger } from '../../app/src/logger.ts';
import { ModelCatalog } from '../../app/src/routing/catalog.ts';
import { createUpstreamClient } from '../../app/src/routing/upstream-client.ts';
import { ManualClock } from '../fixtures/manual-clock.ts';
import { startOpenAiUpstream } from '../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../fixtures/openai-upstream.ts';

describe('the model catalog for pattern channels', () => {
  let upstream: FakeUpstream;
  const client = createUpstreamClient();

  beforeAll(async () => {
    upstream = await startOpenAiUpstream({
      apiKey: 'k',
      models: ['models/gemini-2.5-pro', 'gemini-2.5-flash', 'text-bison'],
    });
  });
  afterAll(async () => {
    await client.close();
    await upstream?.close();
  });

  it('serves a stale list at once while a slow upstream refreshes it in the background', async () => {
    const clock = new ManualClock();
    const config = parseRelayConfig(
      { channels: [{ name: 'gemini', baseUrl: upstream.url, apiKey: 'k', models: ['gemini-*'] }] },
      {},
    );
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const catalog = new ModelCatalog({
      channels: config.channels,
      upstream: client,
      clock,
      logger,
    });

    // Gemini's `models/` prefix is dropped, and only the channel's patterns are kept.
    expect([...(await catalog.list()).keys()].sort()).toEqual([
      'gemini-2.5-flash',
      'gemini-2.5-pro',
    ]);

    await clock.advance(11 * 60_000);
    upstream.overrides.push(() => true); // the next model list never answers
    const started = performance.now();
    const stale = await catalog.list();
    expect(performance.now() - started).toBeLessThan(1000);
    expect([...stale.keys()].sort()).toEqual(['gemini-2.5-flash', 'gemini-2.5-pro']);
  });
});
