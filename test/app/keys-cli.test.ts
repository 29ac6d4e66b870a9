import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRelayConfig } from '../../app/src/config.ts';
import { syncConfigKeys } from '../../app/src/server.ts';
import { SqliteStore } from '../../app/src/store/sqlite.ts';

const CLI = join(import.meta.dirname, '../../app/src/cli/keys.ts');

function keys(dataDir: string, ...args: string[]) {
  return keysWith({}, dataDir, ...args);
}

function keysWith(env: Record<string, string>, dataDir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, RELAY_DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run keys', () => {
  it('creates a key, prints it once, and stores only its hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    const created = keys(
      dir,
      'create',
      '--name',
      'alice',
      '--quota',
      '5',
      '--models',
      'gpt-4o*,deepseek-*',
      '--rpm',
      '60',
      '--tpm',
      '90000',
    );
    expect(created.code).toBe(0);
    const secret = created.out.trim().split('\n').at(-1)!;
    expect(secret).toMatch(/^sk-relay-[\w-]{32}$/);

    const listed = keys(dir, 'list', '--json');
    expect(listed.code).toBe(0);
    expect(listed.out).not.toContain(secret);
    expect(JSON.parse(listed.out)).toEqual([
      expect.objectContaining({
        name: 'alice',
        quota: '$5.0000',
        used: '$0.0000',
        models: 'gpt-4o*,deepseek-*',
        rpm: 60,
        tpm: 90000,
        enabled: true,
      }),
    ]);
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    try {
      expect(store.findKeyBySecret(secret)?.name).toBe('alice');
      expect(
        execFileSync('grep', ['-c', secret, join(dir, 'relay.db')], { encoding: 'utf8' }).trim(),
      ).toBe('0');
    } catch (err) {
      // grep exits 1 when the secret is nowhere in the file, which is the point
      expect((err as { status?: number }).status).toBe(1);
    } finally {
      store.close();
    }
  });

  it('lists the quota held by requests in flight, and says on stderr where a relay keeps its holds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    keys(dir, 'create', '--name', 'dave', '--quota', '1');
    // A hold as a row, as a cluster worker or a relay that handed over keeps it.
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    const keyId = store.getKey('dave')!.id;
    expect(store.reserve(keyId, 250_000, 60_000)).not.toBeNull();
    store.closeNow();
    const json = keys(dir, 'list', '--json');
    expect(JSON.parse(json.out)[0]).toMatchObject({ name: 'dave', held: '$0.2500' });
    expect(json.err).toMatch(/^held: .*keeps its holds in its memory/);
    const tab = keys(dir, 'list');
    expect(tab.out.trim().split('\t').at(-1)).toBe('$0.2500');
    expect(tab.err).toContain('held:');
  });

  it("changes and removes a key's limits, and refuses a limit that is not a whole number", () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    keys(dir, 'create', '--name', 'carol', '--rpm', '10');
    const changed = keys(dir, 'update', '--name', 'carol', '--rpm', 'none', '--tpm', '5000');
    expect(changed).toMatchObject({ code: 0 });
    expect(changed.out).toContain('unlimited requests and 5000 tokens per minute');
    expect(JSON.parse(keys(dir, 'list', '--json').out)[0]).toMatchObject({
      rpm: 'unlimited',
      tpm: 5000,
    });
    expect(keys(dir, 'update', '--name', 'carol', '--tpm', '1.5')).toMatchObject({ code: 2 });
    expect(keys(dir, 'create', '--name', 'dave', '--tpm', 'none')).toMatchObject({ code: 2 });
    expect(keys(dir, 'update', '--name', 'carol')).toMatchObject({ code: 2 });
    // Flags update does not apply are refused, not silently dropped.
    const quota = keys(dir, 'update', '--name', 'carol', '--rpm', '5', '--quota', '9');
    expect(quota).toMatchObject({ code: 2 });
    expect(quota.err).toContain('not --quota');
    expect(keys(dir, 'update', '--name', 'carol', '--models', 'x')).toMatchObject({ code: 2 });
    expect(JSON.parse(keys(dir, 'list', '--json').out)[0]).toMatchObject({ rpm: 'unlimited' });
  });

  it('tops up, disables and re-enables by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    keys(dir, 'create', '--name', 'bob', '--quota', '1');
    expect(keys(dir, 'topup', '--name', 'bob', '--amount', '2.5').code).toBe(0);
    expect(keys(dir, 'disable', '--name', 'bob').out).toContain('disabled');
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    expect(store.getKey('bob')).toMatchObject({ quotaMicros: 3_500_000, enabled: false });
    store.close();
    expect(keys(dir, 'enable', '--name', 'bob').out).toContain('enabled');
  });

  it('exits 2 on bad usage and 1 when the key does not exist, with a message either way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    const usage = keys(dir, 'create');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('needs --name');
    expect(keys(dir, 'frobnicate').code).toBe(2);
    expect(keys(dir, 'create', '--name', 'x', '--quota', '-3').code).toBe(2);
    expect(keys(dir, 'create', '--name', 'x', '--rpm', '0').code).toBe(2);
    const missing = keys(dir, 'topup', '--name', 'ghost', '--amount', '1');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no key named "ghost"');
    keys(dir, 'create', '--name', 'dup');
    expect(keys(dir, 'create', '--name', 'dup').code).toBe(1);
  });

  it('reports requests, tokens and spend per key and model over a period', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    const key = store.upsertKey({ name: 'carol', key: 'sk-carol-0123456789abcdef' });
    const row = (model: string, status: number, cost: number, cacheRead = 0) => ({
      requestId: `req_${model}_${status}_${cost}`,
      keyId: key.id,
      keyName: 'carol',
      endpoint: '/chat/completions',
      model,
      upstreamModel: model,
      channel: 'c',
      status,
      promptTokens: 10,
      completionTokens: 5,
      cacheReadTokens: cacheRead,
      cacheWrite1hTokens: cacheRead > 0 ? 2 : 0,
      reasoningTokens: cacheRead > 0 ? 1 : 0,
      costMicros: cost,
      latencyMs: 1,
      ttfbMs: 1,
      source: 'upstream' as const,
      errorCode: null,
    });
    store.recordUsage(row('gpt-4o', 200, 300, 6));
    store.recordUsage(row('gpt-4o', 502, 0));
    store.recordUsage(row('deepseek-chat', 200, 100));
    store.close();
    const report = keys(dir, 'usage', '--name', 'carol', '--json');
    expect(report.code).toBe(0);
    expect(JSON.parse(report.out)).toEqual([
      {
        keyName: 'carol',
        model: 'gpt-4o',
        requests: 2,
        errors: 1,
        promptTokens: 20,
        completionTokens: 10,
        cacheReadTokens: 6,
        cacheWriteTokens: 2,
        reasoningTokens: 1,
        costMicros: 300,
        costUsd: 0.0003,
      },
      {
        keyName: 'carol',
        model: 'deepseek-chat',
        requests: 1,
        errors: 0,
        promptTokens: 10,
        completionTokens: 5,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        costMicros: 100,
        costUsd: 0.0001,
      },
    ]);
    const table = keys(dir, 'usage', '--name', 'carol').out.split('\n');
    expect(table[0]).toBe(
      'key\tmodel\trequests\terrors\tprompt\tcache read\tcache write\tcompletion\treasoning\tcost',
    );
    expect(table[1]).toBe('carol\tgpt-4o\t2\t1\t20\t6\t2\t10\t1\t$0.0003');
    expect(keys(dir, 'usage', '--until', '2000-01-01').out).toContain('No usage');
    expect(keys(dir, 'usage', '--since', 'yesterday-ish').code).toBe(2);
  });

  it('writes an audit row for every change, as the admin API does, with "cli" as the actor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    const created = keys(dir, 'create', '--name', 'bob', '--quota', '2');
    expect(created.code).toBe(0);
    const secret = created.out.trim().split('\n').at(-1)!;
    expect(keys(dir, 'topup', '--name', 'bob', '--amount', '3').code).toBe(0);
    expect(keys(dir, 'disable', '--name', 'bob').code).toBe(0);
    expect(keys(dir, 'list').code).toBe(0);
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    try {
      const { rows } = await store.admin.audit.list({ limit: 10 });
      expect(rows.map((r) => [r.actor, r.action, r.target])).toEqual([
        ['cli', 'key.update', 'bob'],
        ['cli', 'key.topup', 'bob'],
        ['cli', 'key.create', 'bob'],
      ]);
      expect(rows[0]).toMatchObject({
        before: { enabled: true },
        after: { enabled: false },
        ip: null,
      });
      expect(rows[0]!.requestId).toMatch(/^cli_/);
      expect(rows[1]).toMatchObject({
        before: { quotaUsd: 2 },
        after: { quotaUsd: 5, amountUsd: 3 },
      });
      expect(rows[2]!.after).toMatchObject({ name: 'bob', quotaUsd: 2, enabled: true });
      expect(JSON.stringify(rows)).not.toContain(secret);
    } finally {
      store.close();
    }
  });

  it('leaves the quota of a config-file key to the file, and a key the file disables off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-cli-'));
    const config = {
      keys: [
        { name: 'cfg', key: 'sk-cfg-key-0123456789abcdef', quota: 1 },
        { name: 'off', key: 'sk-off-key-0123456789abcdef', quota: 1, enabled: false },
      ],
    };
    const configPath = join(dir, 'relay.config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const store = new SqliteStore({ path: join(dir, 'relay.db') });
    await syncConfigKeys(parseRelayConfig(config, {}), store);
    store.close();
    const run = (...args: string[]) => keysWith({ RELAY_CONFIG: configPath }, dir, ...args);

    const topup = run('topup', '--name', 'cfg', '--amount', '5');
    expect(topup.code).toBe(1);
    expect(topup.err).toContain('key_managed_by_config');
    const enable = run('enable', '--name', 'off');
    expect(enable.code).toBe(1);
    expect(enable.err).toContain('key_disabled_in_config');
    // Switching a config key off and on is the CLI's to do, and sticks across a start.
    expect(run('disable', '--name', 'cfg').code).toBe(0);
    const again = new SqliteStore({ path: join(dir, 'relay.db') });
    try {
      await syncConfigKeys(parseRelayConfig(config, {}), again);
      expect(again.getKey('cfg')).toMatchObject({ enabled: false, quotaMicros: 1_000_000 });
    } finally {
      again.close();
    }
    expect(run('enable', '--name', 'cfg').code).toBe(0);
  });
});
