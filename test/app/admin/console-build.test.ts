import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildConsole } from '../../../app/src/admin/console-build.ts';
import { LANGS, MESSAGES, pickLang, translate } from '../../../app/console/i18n.ts';

/** A font, script, style or image the browser would fetch from another host. */
const REMOTE = /(@import\s+(url\(\s*)?|url\(\s*|src=)["']?(https?:)?\/\//i;

describe('the console build', () => {
  it('knows a remote load when it sees one, in CSS and in markup', () => {
    for (const remote of [
      '@import url(https://fonts.example/css)',
      '@import "https://cdn.example/x.css"',
      'src: url(https://fonts.example/a.woff2)',
      "background: url( 'http://cdn.example/a.png')",
      'url(//cdn.example/a.png)',
      'src="https://cdn.example/a.js"',
    ])
      expect(remote).toMatch(REMOTE);
    for (const local of [
      'url(/admin/assets/a.woff2)',
      'url(data:image/svg+xml,abc)',
      'src="/a.js"',
    ])
      expect(local).not.toMatch(REMOTE);
  });

  it('is one script and one stylesheet, at most 150 KB gzipped together, loading nothing from elsewhere', async () => {
    const bundle = await buildConsole();
    expect(bundle.files.map((f) => f.path.replace(/-\w+\./, '-HASH.')).sort()).toEqual([
      '/admin/assets/main-HASH.css',
      '/admin/assets/main-HASH.js',
    ]);
    const gzipped = bundle.files.reduce((sum, f) => sum + gzipSync(f.body).length, 0);
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
    for (const f of bundle.files) {
      // No fonts, scripts or styles pulled from a CDN.
      expect(f.body).not.toMatch(REMOTE);
      expect(f.body).not.toMatch(/fonts\.googleapis|unpkg\.com|jsdelivr|cdnjs/);
    }
  });
});

describe('the console in two languages', () => {
  it('has every English message in Simplified Chinese too, with the same placeholders', () => {
    const en = MESSAGES.en;
    const zh = MESSAGES['zh-CN'];
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    const vars = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(zh[key].trim(), key).not.toBe('');
      expect(vars(zh[key]), key).toEqual(vars(en[key]));
    }
    // Translated, not copied (names such as "llm-relay" and "CSV" aside).
    const same = (Object.keys(en) as (keyof typeof en)[]).filter((k) => zh[k] === en[k]);
    expect(same).toEqual([]);
  });

  it('follows the browser, any Chinese variant to 简体中文, and a saved choice over both', () => {
    expect(LANGS).toEqual(['en', 'zh-CN']);
    expect(pickLang(null, ['zh-CN', 'en'])).toBe('zh-CN');
    expect(pickLang(null, ['zh-TW'])).toBe('zh-CN');
    expect(pickLang(null, ['de-DE', 'en-GB'])).toBe('en');
    expect(pickLang(null, ['fr'])).toBe('en');
    expect(pickLang('en', ['zh-CN'])).toBe('en');
    expect(pickLang('xx', ['zh-CN'])).toBe('zh-CN');
    expect(translate('zh-CN', 'channels.testOk', { ms: 42 })).toBe('成功，用时 42 毫秒');
  });
});
