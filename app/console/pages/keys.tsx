import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Badge, ErrorBanner, Modal, Section, Table, useLoad } from '../components.tsx';
import { useConsole } from '../context.ts';
import type { Key } from './types.ts';

interface KeyForm {
  name: string;
  quota: string;
  models: string;
  expires: string;
  rpm: string;
  tpm: string;
}

const emptyForm: KeyForm = { name: '', quota: '', models: '*', expires: '', rpm: '', tpm: '' };

const formOf = (k: Key): KeyForm => ({
  name: k.name,
  quota: k.quotaUsd === null ? '' : String(k.quotaUsd),
  models: k.models.join(', '),
  expires: k.expiresAt ? k.expiresAt.slice(0, 10) : '',
  rpm: k.rpm === null ? '' : String(k.rpm),
  tpm: k.tpm === null ? '' : String(k.tpm),
});

/** The form as the API wants it: empty fields mean "none" (unlimited, never, no limit). */
const bodyOf = (form: KeyForm) => ({
  quotaUsd: form.quota.trim() === '' ? null : Number(form.quota),
  models: form.models
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean),
  expiresAt: form.expires === '' ? null : form.expires,
  rpm: form.rpm.trim() === '' ? null : Number(form.rpm),
  tpm: form.tpm.trim() === '' ? null : Number(form.tpm),
});

function KeyFields({
  form,
  set,
  withName,
}: {
  form: KeyForm;
  set: (f: KeyForm) => void;
  withName: boolean;
}) {
  const { t } = useConsole();
  const field = (key: keyof KeyForm) => (e: Event) =>
    set({ ...form, [key]: (e.target as HTMLInputElement).value });
  return (
    <div class="form-grid">
      {withName && (
        <label>
          {t('keys.name')}
          <input name="name" required maxLength={64} value={form.name} onInput={field('name')} />
        </label>
      )}
      <label>
        {t('keys.quota')}
        <input
          name="quota"
          type="number"
          min="0"
          step="any"
          placeholder={t('keys.quotaHelp')}
          value={form.quota}
          onInput={field('quota')}
        />
      </label>
      <label>
        {t('keys.models')}
        <input
          name="models"
          title={t('keys.modelsHelp')}
          value={form.models}
          onInput={field('models')}
        />
      </label>
      <label>
        {t('keys.expires')}
        <input name="expires" type="date" value={form.expires} onInput={field('expires')} />
      </label>
      <label>
        {t('keys.rpm')}
        <input name="rpm" type="number" min="1" step="1" value={form.rpm} onInput={field('rpm')} />
      </label>
      <label>
        {t('keys.tpm')}
        <input name="tpm" type="number" min="1" step="1" value={form.tpm} onInput={field('tpm')} />
      </label>
    </div>
  );
}

function SecretModal({
  name,
  secret,
  onClose,
}: {
  name: string;
  secret: string;
  onClose: () => void;
}) {
  const { t } = useConsole();
  const [copied, setCopied] = useState(false);
  return (
    <Modal title={`${t('keys.created')}: ${name}`} onClose={onClose}>
      <p class="warn">{t('keys.secretOnce')}</p>
      <code class="secret" data-testid="new-secret">
        {secret}
      </code>
      <div class="actions">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => {},
            )
          }
        >
          {copied ? t('keys.copied') : t('keys.copy')}
        </button>
        <button type="button" class="primary" onClick={onClose}>
          {t('common.close')}
        </button>
      </div>
    </Modal>
  );
}

type Dialog =
  | { kind: 'edit'; key: Key; form: KeyForm }
  | { kind: 'topup'; key: Key; amount: string }
  | { kind: 'secret'; name: string; secret: string };

export function KeysPage() {
  const { t, f } = useConsole();
  const { data, error, reload } = useLoad(() => api<{ keys: Key[] }>('GET', '/keys'), []);
  const [form, setForm] = useState<KeyForm>(emptyForm);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);

  const run = async (action: () => Promise<unknown>) => {
    try {
      setActionError(null);
      await action();
      reload();
      return true;
    } catch (err) {
      setActionError(err as Error);
      return false;
    }
  };
  const path = (k: Key) => `/keys/${encodeURIComponent(k.name)}`;

  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const created = await api<{ key: Key; secret: string }>('POST', '/keys', {
        name: form.name.trim(),
        ...bodyOf(form),
      });
      setForm(emptyForm);
      setDialog({ kind: 'secret', name: created.key.name, secret: created.secret });
    });
  };

  return (
    <div class="page" data-page="keys">
      <ErrorBanner error={error ?? actionError} />
      <Section title={t('keys.create')}>
        <form onSubmit={create} class="inline-form" data-testid="create-key">
          <KeyFields form={form} set={setForm} withName />
          <button type="submit" class="primary">
            {t('keys.create')}
          </button>
        </form>
      </Section>
      <Section title={t('nav.keys')}>
        <Table
          empty={data?.keys.length === 0}
          head={
            <tr>
              <th>{t('keys.name')}</th>
              <th>{t('keys.hint')}</th>
              <th class="num">{t('keys.quota')}</th>
              <th class="num">{t('keys.used')}</th>
              <th class="num">{t('keys.remaining')}</th>
              <th>{t('keys.models')}</th>
              <th>{t('keys.expires')}</th>
              <th class="num">{t('keys.rpm')}</th>
              <th class="num">{t('keys.tpm')}</th>
              <th>{t('keys.status')}</th>
              <th>{t('keys.lastUsed')}</th>
              <th class="num">{t('keys.today')}</th>
              <th class="num">{t('keys.last30')}</th>
              <th>{t('keys.actions')}</th>
            </tr>
          }
        >
          {data?.keys.map((k) => {
            const locked = k.source === 'config';
            // Config-file keys too: the relay remembers the switch across restarts.
            const toggle = (
              <button
                type="button"
                onClick={() => void run(() => api('PATCH', path(k), { enabled: !k.enabled }))}
              >
                {k.enabled ? t('keys.disable') : t('keys.enable')}
              </button>
            );
            return (
              <tr key={k.name} data-key={k.name}>
                <td>
                  {k.name} {locked && <Badge kind="info">{t('keys.fromConfig')}</Badge>}
                </td>
                <td>
                  <code>{k.hint}</code>
                </td>
                <td class="num">{f.usd(k.quotaUsd)}</td>
                <td class="num">{f.usd(k.usedUsd)}</td>
                <td class="num">{f.usd(k.remainingUsd)}</td>
                <td>{k.models.join(', ')}</td>
                <td>{f.date(k.expiresAt)}</td>
                <td class="num">{k.rpm === null ? t('common.unlimited') : f.int(k.rpm)}</td>
                <td class="num">{k.tpm === null ? t('common.unlimited') : f.int(k.tpm)}</td>
                <td>
                  {k.enabled ? (
                    <Badge kind="ok">{t('keys.enabled')}</Badge>
                  ) : (
                    <Badge kind="off">{t('keys.disabled')}</Badge>
                  )}
                </td>
                <td>{f.time(k.lastUsedAt)}</td>
                <td class="num">{f.usd(k.usage.todayUsd)}</td>
                <td class="num">
                  {f.usd(k.usage.last30Days.costUsd)} · {f.int(k.usage.last30Days.requests)}
                </td>
                <td class="row-actions">
                  {locked ? (
                    <>
                      {toggle}
                      <span class="muted">{t('keys.fromConfigHelp')}</span>
                    </>
                  ) : (
                    <>
                      <button
                        type="button"
                        onClick={() => setDialog({ kind: 'edit', key: k, form: formOf(k) })}
                      >
                        {t('keys.edit')}
                      </button>
                      <button
                        type="button"
                        onClick={() => setDialog({ kind: 'topup', key: k, amount: '' })}
                      >
                        {t('keys.topup')}
                      </button>
                      {toggle}
                      <button
                        type="button"
                        class="danger"
                        onClick={() =>
                          confirm(t('keys.confirmDelete', { name: k.name })) &&
                          void run(() => api('DELETE', path(k)))
                        }
                      >
                        {t('keys.delete')}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      </Section>
      {dialog?.kind === 'secret' && (
        <SecretModal name={dialog.name} secret={dialog.secret} onClose={() => setDialog(null)} />
      )}
      {dialog?.kind === 'edit' && (
        <Modal title={`${t('keys.edit')}: ${dialog.key.name}`} onClose={() => setDialog(null)}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(() => api('PATCH', path(dialog.key), bodyOf(dialog.form))).then(
                (ok) => ok && setDialog(null),
              );
            }}
          >
            <ErrorBanner error={actionError} />
            <KeyFields
              form={dialog.form}
              set={(form) => setDialog({ ...dialog, form })}
              withName={false}
            />
            <div class="actions">
              <button type="button" onClick={() => setDialog(null)}>
                {t('common.cancel')}
              </button>
              <button type="submit" class="primary">
                {t('common.save')}
              </button>
            </div>
          </form>
        </Modal>
      )}
      {dialog?.kind === 'topup' && (
        <Modal title={`${t('keys.topup')}: ${dialog.key.name}`} onClose={() => setDialog(null)}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(() =>
                api('POST', `${path(dialog.key)}/topup`, { amountUsd: Number(dialog.amount) }),
              ).then((ok) => ok && setDialog(null));
            }}
          >
            <ErrorBanner error={actionError} />
            <label>
              {t('keys.amount')}
              <input
                name="amount"
                type="number"
                min="0.000001"
                step="any"
                required
                value={dialog.amount}
                onInput={(e) =>
                  setDialog({ ...dialog, amount: (e.target as HTMLInputElement).value })
                }
              />
            </label>
            <div class="actions">
              <button type="button" onClick={() => setDialog(null)}>
                {t('common.cancel')}
              </button>
              <button type="submit" class="primary">
                {t('keys.topup')}
              </button>
            </div>
          </form>
        </Modal>
      )}
    </div>
  );
}
