import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Badge, ErrorBanner, Section, useLoad } from '../components.tsx';
import { useConsole } from '../context.ts';
import type { MessageKey } from '../i18n.ts';
import type { Channel, ChannelTest } from './types.ts';

const STATE_KIND = { ok: 'ok', degraded: 'warn', open: 'bad', disabled: 'off' } as const;

function TestResult({ result }: { result: ChannelTest }) {
  const { t } = useConsole();
  return (
    <div class={`test-result ${result.ok ? 'ok' : 'bad'}`} data-testid="test-result">
      <strong>
        {result.ok
          ? t('channels.testOk', { ms: result.latencyMs })
          : t('channels.testFailed', { ms: result.latencyMs })}
      </strong>{' '}
      <span class="muted">
        {result.model}
        {result.status !== null && ` · HTTP ${result.status}`}
      </span>
      <pre>{result.answer ?? result.error}</pre>
    </div>
  );
}

function ChannelCard({ channel, onChanged }: { channel: Channel; onChanged: () => void }) {
  const { t, f } = useConsole();
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<ChannelTest | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const path = `/channels/${encodeURIComponent(channel.name)}`;
  const test = async () => {
    setTesting(true);
    setError(null);
    try {
      setResult(await api<ChannelTest>('POST', `${path}/test`, {}));
    } catch (err) {
      setError(err as Error);
    } finally {
      setTesting(false);
    }
  };
  const toggle = async () => {
    setError(null);
    try {
      await api('PATCH', path, { enabled: !channel.enabled });
      onChanged();
    } catch (err) {
      setError(err as Error);
    }
  };
  const r = channel.recent;
  return (
    <section class="panel channel" data-channel={channel.name}>
      <div class="panel-head">
        <h2>
          {channel.name}{' '}
          <Badge kind={STATE_KIND[channel.state]}>
            {t(`channels.state.${channel.state}` as MessageKey)}
          </Badge>
        </h2>
        <div class="row-actions">
          <button type="button" onClick={() => void test()} disabled={testing}>
            {testing ? t('channels.testing') : t('channels.test')}
          </button>
          {channel.configEnabled && (
            <button
              type="button"
              class={channel.enabled ? 'danger' : 'primary'}
              onClick={() => void toggle()}
            >
              {channel.enabled ? t('channels.disable') : t('channels.enable')}
            </button>
          )}
        </div>
      </div>
      <ErrorBanner error={error} />
      <dl class="facts">
        <dt>{t('channels.type')}</dt>
        <dd>
          {channel.type} · <code>{channel.baseUrl}</code>
        </dd>
        <dt>{t('channels.priority')}</dt>
        <dd>
          {channel.priority} / {channel.weight}
        </dd>
        <dt>{t('channels.models')}</dt>
        <dd>{[...channel.models, ...channel.aliases].join(', ')}</dd>
        <dt>{t('channels.recent', { minutes: r.windowMinutes })}</dt>
        <dd>
          {f.int(r.requests)} {t('channels.requests')} · {t('channels.errorRate')}{' '}
          {f.pct(r.errorRate)} · {t('channels.latency')} {f.ms(r.latencyMs.p50)}
        </dd>
        {channel.circuits.length > 0 && (
          <>
            <dt>{t('channels.circuits')}</dt>
            <dd>
              {channel.circuits.map((c) => (
                <div key={c.model ?? ''}>
                  {c.model ?? channel.name}: {c.state}
                  {c.failuresInWindow !== undefined &&
                    ` · ${t('channels.failures', { n: c.failuresInWindow })}`}
                </div>
              ))}
            </dd>
          </>
        )}
        {r.lastError && (
          <>
            <dt>{t('channels.lastError')}</dt>
            <dd>
              {f.time(r.lastError.at)} · {r.lastError.status} {r.lastError.code}{' '}
              {r.lastError.message}
            </dd>
          </>
        )}
        {!channel.configEnabled && <dd class="muted">{t('channels.configDisabled')}</dd>}
        {channel.override && (
          <dd class="muted">
            {t('channels.switchedBy', {
              who: channel.override.by,
              at: f.time(channel.override.at),
            })}
          </dd>
        )}
      </dl>
      {result && <TestResult result={result} />}
    </section>
  );
}

export function ChannelsPage() {
  const { t } = useConsole();
  const { data, error, reload } = useLoad(
    () => api<{ channels: Channel[] }>('GET', '/channels'),
    [],
  );
  return (
    <div class="page" data-page="channels">
      <ErrorBanner error={error} />
      {data ? (
        data.channels.length === 0 ? (
          <Section title={t('nav.channels')}>
            <p class="muted">{t('common.none')}</p>
          </Section>
        ) : (
          data.channels.map((c) => <ChannelCard key={c.name} channel={c} onChanged={reload} />)
        )
      ) : (
        <p class="muted">{t('common.loading')}</p>
      )}
    </div>
  );
}
