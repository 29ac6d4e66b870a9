import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../../fixtures/openai-upstream.ts';
import { startTestRelay } from '../../fixtures/relay-harness.ts';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const CLIENT = 'sk-client-0123456789abcdef';

describe('a channel switched off in the console, across a restart', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;

  beforeAll(async () => {
    primary = await startOpenAiUpstream({ apiKey: 'p', reply: 'from primary' });
    backup = await startOpenAiUpstream({ apiKey: 'b', reply: 'from backup' });
  });
  afterAll(async () => {
    await primary?.close();
    await backup?.close();
  });

  it('stays off after the relay restarts on the same data, from the first request on', async () => {
    const config = {
      channels: [
        { name: 'primary', baseUrl: primary.url, apiKey: 'p', models: ['m'], priority: 0 },
        { name: 'backup', baseUrl: backup.url, apiKey: 'b', models: ['m'], priority: 1 },
      ],
      keys: [{ name: 'client', key: CLIENT }],
    };
    const first = await startTestRelay(config, { ADMIN_KEY });
    const off = await fetch(`${first.baseUrl}/admin/api/channels/primary`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    });
    expect(off.status).toBe(200);
    await first.close();

    const second = await startTestRelay(config, { ADMIN_KEY }, { dataDir: first.dataDir });
    try {
      const answer = await second.client(CLIENT).chat.completions.create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(answer.choices[0]!.message.content).toBe('from backup');
      expect(primary.requests).toHaveLength(0);
      const channels = await fetch(`${second.baseUrl}/admin/api/channels`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      }).then((r) => r.json() as Promise<{ channels: { name: string; enabled: boolean }[] }>);
      expect(channels.channels.map((c) => [c.name, c.enabled])).toEqual([
        ['primary', false],
        ['backup', true],
      ]);
    } finally {
      await second.close();
    }
  });

  it('keeps a config-file key switched off in the console off after a restart, and on once switched on', async () => {
    const config = {
      channels: [{ name: 'primary', baseUrl: primary.url, apiKey: 'p', models: ['m'] }],
      keys: [{ name: 'client', key: CLIENT }],
    };
    const ask = (relay: Awaited<ReturnType<typeof startTestRelay>>) =>
      relay
        .client(CLIENT)
        .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
        .then(
          () => 200,
          (err: { status?: number }) => err.status,
        );
    const patch = (relay: Awaited<ReturnType<typeof startTestRelay>>, enabled: boolean) =>
      fetch(`${relay.baseUrl}/admin/api/keys/client`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled }),
      });
    const first = await startTestRelay(config, { ADMIN_KEY });
    expect((await patch(first, false)).status).toBe(200);
    await first.close();

    const second = await startTestRelay(config, { ADMIN_KEY }, { dataDir: first.dataDir });
    try {
      expect(await ask(second)).toBe(401);
      expect((await patch(second, true)).status).toBe(200);
    } finally {
      await second.close();
    }
    const third = await startTestRelay(config, { ADMIN_KEY }, { dataDir: first.dataDir });
    try {
      expect(await ask(third)).toBe(200);
    } finally {
      await third.close();
    }
  });
});
