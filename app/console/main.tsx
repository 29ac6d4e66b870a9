import { render } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api, configureSession } from './api.ts';
import { ErrorBanner } from './components.tsx';
import { Ctx } from './context.ts';
import type { ConsoleContext } from './context.ts';
import { formats } from './format.ts';
import { LANGS, pickLang, translate } from './i18n.ts';
import type { Lang, MessageKey } from './i18n.ts';
import { AuditPage } from './pages/audit.tsx';
import { ChannelsPage } from './pages/channels.tsx';
import { KeysPage } from './pages/keys.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { RequestsPage } from './pages/requests.tsx';
import { UsagePage } from './pages/usage.tsx';
import './styles.css';

const PAGES = {
  overview: OverviewPage,
  keys: KeysPage,
  usage: UsagePage,
  channels: ChannelsPage,
  requests: RequestsPage,
  audit: AuditPage,
} as const;
type PageName = keyof typeof PAGES;

const LANG_KEY = 'llm-relay.lang';
const LANG_NAMES: Record<Lang, string> = { en: 'English', 'zh-CN': '简体中文' };

interface Session {
  admin: string | null;
  csrfToken: string | null;
}

const pageFromHash = (): PageName => {
  const name = location.hash.replace(/^#\/?/, '');
  return name in PAGES ? (name as PageName) : 'overview';
};

function useHashPage(): PageName {
  const [page, setPage] = useState(pageFromHash);
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return page;
}

function LangSelect({
  lang,
  setLang,
  label,
}: {
  lang: Lang;
  setLang: (l: Lang) => void;
  label: string;
}) {
  return (
    <select
      aria-label={label}
      name="lang"
      value={lang}
      onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}
    >
      {LANGS.map((l) => (
        <option key={l} value={l}>
          {LANG_NAMES[l]}
        </option>
      ))}
    </select>
  );
}

function Login({
  onLogin,
  ctx,
  setLang,
  problem,
}: {
  onLogin: (s: Session) => void;
  ctx: ConsoleContext;
  setLang: (l: Lang) => void;
  problem: Error | null;
}) {
  const { t } = ctx;
  const [key, setKey] = useState('');
  const [error, setError] = useState<Error | null>(problem);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      onLogin(await api<Session>('POST', '/session', { key }));
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <main class="login">
      <form onSubmit={(e) => void submit(e)}>
        <div class="login-head">
          <h1>{t('app.title')}</h1>
          <LangSelect lang={ctx.lang} setLang={setLang} label={t('lang.label')} />
        </div>
        <h2>{t('login.title')}</h2>
        <ErrorBanner error={error} />
        <label>
          {t('login.key')}
          <input
            name="key"
            type="password"
            autoComplete="current-password"
            required
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary">
          {t('login.submit')}
        </button>
        <p class="muted">{t('login.hint')}</p>
      </form>
    </main>
  );
}

function App() {
  const [lang, setLangState] = useState<Lang>(() =>
    pickLang(localStorage.getItem(LANG_KEY), navigator.languages),
  );
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [problem, setProblem] = useState<Error | null>(null);
  const page = useHashPage();
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem(LANG_KEY, l);
    setLangState(l);
  }, []);
  const ctx = useMemo<ConsoleContext>(() => {
    const t = (key: MessageKey, vars?: Readonly<Record<string, string | number>>) =>
      translate(lang, key, vars);
    return { lang, t, f: formats(lang, t('common.never'), t('common.unlimited')) };
  }, [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = ctx.t('app.title');
  }, [lang, ctx]);
  useEffect(() => {
    configureSession(session?.csrfToken ?? null, () => setSession(null));
  }, [session]);
  useEffect(() => {
    api<Session>('GET', '/session').then(
      (s) => setSession(s.admin ? s : null),
      (err: Error) => {
        setProblem(err);
        setSession(null);
      },
    );
  }, []);

  if (session === undefined) return null;
  if (session === null) {
    return (
      <Ctx.Provider value={ctx}>
        <Login
          ctx={ctx}
          setLang={setLang}
          problem={problem}
          onLogin={(s) => {
            configureSession(s.csrfToken, () => setSession(null));
            setSession(s);
          }}
        />
      </Ctx.Provider>
    );
  }
  const Page = PAGES[page];
  const logout = () => void api('DELETE', '/session').finally(() => setSession(null));
  return (
    <Ctx.Provider value={ctx}>
      <header class="top">
        <span class="brand">{ctx.t('app.title')}</span>
        <nav>
          {(Object.keys(PAGES) as PageName[]).map((p) => (
            <a
              key={p}
              href={`#/${p}`}
              class={p === page ? 'active' : ''}
              aria-current={p === page ? 'page' : undefined}
            >
              {ctx.t(`nav.${p}`)}
            </a>
          ))}
        </nav>
        <div class="session">
          <LangSelect lang={lang} setLang={setLang} label={ctx.t('lang.label')} />
          <span class="muted who">
            {ctx.t('session.signedInAs', { name: session.admin ?? '' })}
          </span>
          <button type="button" onClick={logout}>
            {ctx.t('session.logout')}
          </button>
        </div>
      </header>
      <main>
        <Page key={page} />
      </main>
    </Ctx.Provider>
  );
}

render(<App />, document.getElementById('app')!);
