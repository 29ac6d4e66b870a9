import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../../app/src/config.ts';
import { ChannelState } from '../../../app/src/routing/channel-state.ts';
import { SqliteStore } from '../../../app/src/store/sqlite.ts';
import type { ChannelOverrides } from '../../../app/src/store/admin-types.ts';
import { SettableClock } from '../../fixtures/admin-app.ts';

describe('channel switches', () => {
  it('keep a switch made while an older read of the store is still on its way', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const stored = store.admin.channels;
    // The store answers the read only when the test says so: the switch lands in between.
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    const slow: ChannelOverrides = {
      ...stored,
      list: async () => {
        const list = await stored.list();
        await held;
        return list;
      },
    };
    const clock = new SettableClock(Date.parse('2026-11-22T12:00:00Z'));
    const state = new ChannelState(slow, clock);
    const [channel] = parseRelayConfig(
      { channels: [{ name: 'a', baseUrl: 'http://127.0.0.1:9', apiKey: 'k', models: ['m'] }] },
      {},
    ).channels;

    const reading = state.load();
    await state.set({ channel: 'a', enabled: false, actor: 'admin', at: clock.now() });
    answer();
    await reading;
    expect(state.isOn(channel!)).toBe(false);
    expect(state.override('a')?.enabled).toBe(false);
    store.close();
  });
});
