import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/owner/password';
import { admin, startAgent, startProduct } from './harness';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is required under CI=true`);

const PASSWORD = 'owner password in the browser';
// Runs inside the page; the DOM's types are not in this Node project's lib.
const backgroundOf = (element: unknown) =>
  (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(
    element,
  ).backgroundColor;

describe.skipIf(!hasChromium)('the owner’s page in a real headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('logs in, shows a product going red when it is stopped, and approves a draft', async () => {
    const cronping = await startProduct('cronping');
    const flagbit = await startProduct('flagbit');
    const { app, url } = await startAgent(
      {
        CRONPING_URL: cronping.url,
        FLAGBIT_URL: flagbit.url,
        OWNER_PASSWORD_HASH: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }),
      },
      { listen: true },
    );
    await app.inject({ method: 'POST', url: '/audit', headers: admin });
    const post = (
      await app.inject({
        method: 'POST',
        url: '/posts',
        headers: admin,
        payload: { title: 'Slime molds', markdown: 'They *think*.' },
      })
    ).json();
    const [draft] = (
      await app.inject({
        method: 'POST',
        url: `/posts/${post.id}/crosspost`,
        headers: admin,
        payload: { channels: ['reddit'] },
      })
    ).json().items;

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=password]', 'wrong password');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('Wrong password');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${url}/`);

    const flagbitRow = page.locator('tr[data-product=flagbit]');
    expect(await flagbitRow.getAttribute('data-status'), (await flagbitRow.textContent()) ?? '').toBe('pass');
    const before = await flagbitRow.locator('.badge').evaluate(backgroundOf);
    expect(before).not.toBe('rgb(227, 52, 47)');

    await flagbit.stop();
    await page.click('text=Run audit now');
    await page.waitForURL(/notice=/);
    expect(await flagbitRow.getAttribute('data-status')).toBe('fail');
    const red = await flagbitRow.locator('.badge').evaluate(backgroundOf);
    expect(red).toBe('rgb(227, 52, 47)');
    expect(await page.locator('tr[data-product=cronping]').getAttribute('data-status')).not.toBe('fail');

    const row = page.locator(`tr[data-queue-item="${draft.id}"]`);
    expect(await row.getAttribute('data-status')).toBe('pending');
    await row.locator('textarea[name=body]').fill('Slime molds solve mazes. Edited by the owner.');
    await row.locator('button', { hasText: 'Save edits' }).click();
    await page.waitForURL(/edits%20saved/);
    await row.locator('button', { hasText: 'Approve' }).click();
    await page.waitForURL(/notice=reddit/);
    expect(await row.getAttribute('data-status')).toBe('ready_by_hand');
    expect(await row.locator('.queue-status').textContent()).toBe('ready to post by hand');
    await page.screenshot({
      path: `${process.env.OPS_AGENT_SCREENSHOT_DIR ?? '/tmp'}/ops-agent-owner-page.png`,
      fullPage: true,
    });

    const queue = (await app.inject({ method: 'GET', url: '/queue', headers: admin })).json().items;
    expect(queue[0]).toMatchObject({
      id: draft.id,
      status: 'ready_by_hand',
      body: 'Slime molds solve mazes. Edited by the owner.',
    });
    await context.close();
  }, 30_000);
});
