/**
 * The admin console in a real browser (Debian's chromium driven by playwright-core) against the
 * real relay: an operator logs in, creates a key, a client uses it, the operator finds the
 * request and the spend, tests and switches off a channel, and reads it all in Chinese too.
 * Screenshots of every page land in test-artifacts/admin-console/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiUpstream } from '../../fixtures/openai-upstream.ts';
import type { FakeUpstream } from '../../fixtures/openai-upstream.ts';
import { launchChromium } from '../../fixtures/chromium.ts';
import { startTestRelay } from '../../fixtures/relay-harness.ts';
import { usageRow } from '../../fixtures/admin-app.ts';
import { WINDOWS_PER_LOAD } from '../../../app/console/paging.ts';
import { REQUESTS_SCAN_BUDGET } from '../../../app/src/store/sqlite-usage-queries.ts';
import type { TestRelay } from '../../fixtures/relay-harness.ts';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const SHOTS = join(import.meta.dirname, '../../../test-artifacts/admin-console');
const PAGES = ['overview', 'keys', 'usage', 'channels', 'requests', 'audit'] as const;

describe('the admin console in a real browser', () => {
  let primary: FakeUpstream;
  let backup: FakeUpstream;
  let relay: TestRelay;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('requestfailed', (r) =>
      problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`),
    );
  };
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const open = async (name: (typeof PAGES)[number]) => {
    await page.goto(`${relay.baseUrl}/admin#/${name}`);
    await page.locator(`[data-page=${name}]`).waitFor();
  };

  beforeAll(async () => {
    // First: without a browser there is nothing to start the rest for.
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
    primary = await startOpenAiUpstream({ apiKey: 'p', reply: 'from primary' });
    backup = await startOpenAiUpstream({ apiKey: 'b', reply: 'from backup' });
    relay = await startTestRelay(
      {
        channels: [
          {
            name: 'primary',
            baseUrl: primary.url,
            apiKey: 'p',
            models: ['gpt-4o-mini'],
            priority: 0,
          },
          {
            name: 'backup',
            baseUrl: backup.url,
            apiKey: 'b',
            models: ['gpt-4o-mini'],
            priority: 1,
          },
        ],
        // 11 prompt + 7 completion tokens at $1,000 per 1M: $0.018 a request.
        prices: { 'gpt-4o-mini': { input: 1000, output: 1000 } },
      },
      { ADMIN_KEY },
    );
    context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await primary?.close();
    await backup?.close();
  });

  it('logs in, creates a key that works with the openai SDK, finds the request and the spend, fails a channel over, speaks Chinese', async () => {
    await page.goto(`${relay.baseUrl}/admin`);
    await page.getByRole('heading', { name: 'Admin login' }).waitFor();
    await shot('login');
    await page.fill('input[name=key]', ADMIN_KEY);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('[data-page=overview]').waitFor();

    // A key, created in the console and shown once.
    await open('keys');
    const form = page.getByTestId('create-key');
    await form.locator('input[name=name]').fill('browser-key');
    await form.locator('input[name=quota]').fill('5');
    await form.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-secret').textContent())!.trim();
    expect(secret).toMatch(/^sk-relay-/);
    await page.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => page.locator('[data-key="browser-key"]').count()).toBe(1);
    expect(await page.content()).not.toContain(secret);
    await shot('keys');

    // A client uses it through the official SDK.
    const client = new OpenAI({ apiKey: secret, baseURL: `${relay.baseUrl}/v1`, maxRetries: 0 });
    const first = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(first.choices[0]!.message.content).toBe('from primary');
    const requestId = first._request_id!;
    expect(requestId).toMatch(/^req_/);

    // The request is in Requests; the spend in Overview.
    await open('requests');
    const row = page.locator(`[data-request-id="${requestId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('browser-key');
    expect(await row.textContent()).toContain('primary');
    await row.click();
    await page.getByText(requestId, { exact: true }).waitFor();
    await shot('requests');
    await open('overview');
    const spend = page.locator('.card', { hasText: 'Spend today' });
    await expect.poll(() => spend.textContent()).toContain('$0.018');
    await shot('overview');

    // Test a channel, switch it off, and see the next request go to the other one.
    await open('channels');
    const card = page.locator('[data-channel="primary"]');
    await card.getByRole('button', { name: 'Test now' }).click();
    const result = card.getByTestId('test-result');
    await result.waitFor();
    expect(await result.textContent()).toMatch(/OK in \d+ ms/);
    expect(await result.textContent()).toContain('from primary');
    await card.getByRole('button', { name: 'Disable' }).click();
    await expect.poll(() => card.locator('.badge').textContent()).toBe('disabled');
    await shot('channels');
    const second = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'again' }],
    });
    expect(second.choices[0]!.message.content).toBe('from backup');
    await open('requests');
    const failedOver = page.locator(`[data-request-id="${second._request_id}"]`);
    await failedOver.waitFor();
    expect(await failedOver.textContent()).toContain('backup');

    await open('usage');
    await page.locator('select[name=groupBy]').selectOption('key');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('table').last().textContent()).toContain('browser-key');
    expect(await page.locator('a', { hasText: 'Export CSV' }).getAttribute('href')).toContain(
      '/admin/api/usage/export.csv?',
    );
    await shot('usage');

    await open('audit');
    const audit = page.locator('[data-page=audit] table');
    await expect.poll(() => audit.textContent()).toContain('channel.disable');
    expect(await audit.textContent()).toContain('key.create');
    expect(await audit.textContent()).not.toContain(secret);
    await shot('audit');

    // 简体中文, chosen in the console and kept across a reload.
    await page.locator('header select[name=lang]').selectOption('zh-CN');
    await page.getByRole('link', { name: '概览' }).waitFor();
    await page.reload();
    await page.getByRole('link', { name: '渠道' }).click();
    await page.locator('[data-page=channels]').waitFor();
    await expect
      .poll(() => page.locator('[data-channel="primary"] .badge').textContent())
      .toBe('已禁用');
    await open('overview');
    await page.getByText('今日消费').waitFor();
    await shot('overview-zh');

    // A phone: every page fits the screen's width (wide tables scroll inside their box).
    await page.setViewportSize({ width: 390, height: 844 });
    for (const name of PAGES) {
      await open(name);
      await page.waitForTimeout(100);
      // A string runs in the page, where the DOM is; this file is type-checked without it.
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      expect(overflow, `${name} is wider than a phone`).toBeLessThanOrEqual(0);
      await shot(`${name}-phone`);
    }

    expect(problems).toEqual([]);
  }, 120_000);

  it('pages through requests with Load more, the filters kept on every page', async () => {
    // 70 failed requests of one key among 70 of another, newest last.
    const store = relay.store();
    for (let i = 0; i < 140; i++) {
      const mine = i % 2 === 0;
      store.recordUsage(
        usageRow({
          requestId: `req_page_${String(i).padStart(3, '0')}`,
          keyName: mine ? 'pager' : 'other',
          keyId: null,
          status: mine ? 502 : 200,
          errorCode: mine ? 'upstream_error' : null,
        }),
      );
    }
    const en = await browser.newContext({ locale: 'en-US' });
    const p = await en.newPage();
    watch(p);
    await p.goto(`${relay.baseUrl}/admin`);
    await p.fill('input[name=key]', ADMIN_KEY);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.locator('[data-page=overview]').waitFor();
    await p.goto(`${relay.baseUrl}/admin#/requests`);
    const list = p.locator('[data-page=requests]');
    await list.locator('input[name=key]').fill('pager');
    await list.locator('select[name=status]').selectOption('error');
    await list.getByRole('button', { name: 'Apply' }).click();
    const rows = list.locator('tr[data-request-id]');
    const ids = () =>
      rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-request-id')));
    await expect.poll(ids).toHaveLength(50);
    expect(new Set(await rows.locator('td:nth-child(2)').allTextContents())).toEqual(
      new Set(['pager']),
    );
    await list.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(ids).toHaveLength(70);
    const seen = (await ids()) as string[];
    expect(new Set(seen).size).toBe(70);
    expect(seen[0]).toBe('req_page_138');
    expect(seen.at(-1)).toBe('req_page_000');
    expect(new Set(await rows.locator('td:nth-child(2)').allTextContents())).toEqual(
      new Set(['pager']),
    );
    expect(await list.getByRole('button', { name: 'Load more' }).count()).toBe(0);

    // The next page of the old filter, answered only after the filter changed: it is dropped.
    await list.locator('input[name=key]').fill('');
    await list.locator('select[name=status]').selectOption('');
    await list.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(ids).toHaveLength(50);
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await p.route(/\/admin\/api\/requests\?.*cursor=/, async (route) => {
      await held;
      await route.continue();
    });
    await list.getByRole('button', { name: 'Load more' }).click();
    await list.locator('input[name=key]').fill('pager');
    await list.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(ids).toHaveLength(50);
    release();
    await p.waitForTimeout(300);
    expect(new Set(await rows.locator('td:nth-child(2)').allTextContents())).toEqual(
      new Set(['pager']),
    );
    await p.unroute(/\/admin\/api\/requests\?.*cursor=/);

    // A match older than what one load looks at: the page says so, and Load more finds it.
    store.recordUsage(usageRow({ requestId: 'req_rare', keyName: 'busy', model: 'rare-model' }));
    for (let i = 0; i < REQUESTS_SCAN_BUDGET * WINDOWS_PER_LOAD; i++)
      store.recordUsage(usageRow({ requestId: `req_busy_${i}`, keyName: 'busy', keyId: null }));
    await list.locator('input[name=key]').fill('busy');
    await list.locator('input[name=model]').fill('rare-model');
    await list.getByRole('button', { name: 'Apply' }).click();
    await list.getByTestId('searching').waitFor();
    expect(await ids()).toEqual([]);
    await list.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(ids).toEqual(['req_rare']);
    expect(await list.getByTestId('searching').count()).toBe(0);
    await en.close();
    expect(problems).toEqual([]);
  }, 60_000);

  it('speaks the browser’s language from the start: Chinese for a zh-CN browser', async () => {
    const zh = await browser.newContext({ locale: 'zh-CN' });
    const p = await zh.newPage();
    watch(p);
    await p.goto(`${relay.baseUrl}/admin`);
    await p.getByRole('heading', { name: '管理员登录' }).waitFor();
    expect(await p.locator('html').getAttribute('lang')).toBe('zh-CN');
    await zh.close();
    expect(problems).toEqual([]);
  }, 60_000);
});
