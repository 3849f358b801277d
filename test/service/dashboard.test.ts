/**
 * The dashboard in a real browser (playwright-core driving Debian's chromium) against a real paper session:
 * refused without the token, loads with it (then by cookie), every chart draws non-empty, numbers update
 * after a fill, and a button (with its confirmation) pauses the coin. Skips, saying so, without chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { type Harness, startHarness, TEST_TOKEN } from './harness.ts';

// Browser globals used inside page.evaluate/waitForFunction (this project typechecks without the DOM library).
interface BrowserElement {
  textContent: string | null;
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const document: {
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): { length: number };
};
declare const window: Record<string, unknown>;

const CHROMIUM = process.env.CJMM_CHROMIUM ?? '/usr/bin/chromium';
const skip: string | false =
  sharedSkip ||
  (existsSync(CHROMIUM)
    ? false
    : `chromium not found at ${CHROMIUM} (apt-get install -y chromium); skipping the browser tests`);

/** Launches Debian's chromium headless, offline-friendly, in a fresh profile (playwright's persistent context). */
export async function launchChromium(
  profile: string,
  viewport = { width: 1500, height: 1800 },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Non-transparent pixels of a uPlot chart's canvas. */
async function inkOf(page: Page, coin: string, chart: string): Promise<number> {
  return page.evaluate(
    ([c, n]) => {
      const canvas = document.querySelector(`article[data-coin="${c}"] [data-chart="${n}"] canvas`);
      if (!canvas) return -1;
      const ctx = canvas.getContext('2d');
      if (!ctx) return -2;
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) ink++;
      return ink;
    },
    [coin, chart],
  );
}

describe('the dashboard in chromium', { skip }, () => {
  let h: Harness;
  let browser: BrowserContext;
  let profile: string;
  before(async () => {
    h = await startHarness();
    profile = mkdtempSync(join(tmpdir(), 'cjmm-chromium-'));
    browser = await launchChromium(profile);
    await waitFor(
      () => h.service.core.paramsHistory().points.length >= 3 || undefined,
      'calibrations',
      60_000,
    );
    await waitFor(() => h.service.core.fills().fills.length >= 1 || undefined, 'a fill', 60_000);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('refused without the token (page and API), loaded with it, then by cookie', async () => {
    const ctx = browser;
    await ctx.clearCookies();
    const page = await ctx.newPage();
    const refused = await page.goto(`${h.url}/`);
    assert.equal(refused?.status(), 401);
    assert.match((await page.textContent('h1')) ?? '', /token required/);
    const wrong = await page.goto(`${h.url}/?token=wrong-token-0123456789`);
    assert.equal(wrong?.status(), 401);
    const api = await page.goto(`${h.url}/api/v1/status`);
    assert.equal(api?.status(), 401);
    const ok = await page.goto(`${h.url}/?token=${TEST_TOKEN}`);
    assert.equal(ok?.status(), 200);
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === 'cjmm_token');
    assert.ok(c?.httpOnly, 'HttpOnly cookie');
    assert.equal(c?.sameSite, 'Strict');
    await page.waitForFunction(
      () => (window as unknown as { cjmmDashboard?: { ready: boolean } }).cjmmDashboard?.ready === true,
    );
    const again = await page.goto(`${h.url}/`);
    assert.equal(again?.status(), 200, 'the cookie is enough afterwards');
    await page.close();
  });

  test('every chart draws, numbers update after a fill, and Pause (confirmed) pauses the coin', async () => {
    const ctx = browser;
    await ctx.clearCookies();
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Console errors too (a failed load logs one).
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(h.url)) external.push(r.url());
    });
    await page.goto(`${h.url}/?token=${TEST_TOKEN}`);
    await page.waitForFunction(
      () => (window as unknown as { cjmmDashboard?: { ready: boolean } }).cjmmDashboard?.ready === true,
    );
    await page.waitForFunction(
      () =>
        ((window as unknown as { cjmmDashboard: { statusEvents: number } }).cjmmDashboard.statusEvents ??
          0) >= 3,
    );
    await page.waitForTimeout(600); // two draw frames
    for (const chart of ['price', 'inventory', 'pnl', 'lambda', 'kappa', 'epsilon']) {
      const ink = await inkOf(page, 'ETH', chart);
      assert.ok(ink > 500, `${chart} chart draws (ink ${ink})`);
      const rows = await page.evaluate(
        ([n]) =>
          (
            window as unknown as {
              cjmmDashboard: {
                markets: Map<string, { charts: Record<string, { table: { length: number } }> }>;
              };
            }
          ).cjmmDashboard.markets.get('ETH')!.charts[n].table.length,
        [chart],
      );
      assert.ok(rows > 0, `${chart} has data`);
    }
    assert.match((await page.textContent('article[data-coin="ETH"] .mid')) ?? '', /^\d{4}\.\d+$/);
    assert.notEqual((await page.textContent('#acct-equity')) ?? '—', '—');

    // A new fill shows up: fills count and table, from the stream.
    const fillsText = async () => Number((await page.textContent('article[data-coin="ETH"] .fills')) ?? '0');
    const n0 = h.service.core.fills().fills.length;
    await waitFor(() => h.service.core.fills().fills.length > n0 || undefined, 'another fill', 60_000);
    const want = h.service.core.fills().fills.length;
    await page.waitForFunction(
      (w) => Number(document.querySelector('article[data-coin="ETH"] .fills')?.textContent ?? 0) >= w,
      want,
      { timeout: 15_000 },
    );
    assert.ok((await fillsText()) >= want);
    const lastTid = h.service.core.fills().fills.at(-1)!;
    await page.waitForFunction(() => document.querySelectorAll('#fills tbody tr').length > 0);
    const firstRow = (await page.textContent('#fills tbody tr')) ?? '';
    assert.ok(firstRow.includes('ETH'));
    assert.ok(lastTid.px > 0);

    // Pause with its confirmation: Cancel does nothing, Confirm pauses.
    await page.click('article[data-coin="ETH"] button[data-action="pause"]');
    await page.waitForSelector('#confirm[open]');
    assert.match((await page.textContent('#confirm-text')) ?? '', /pause ETH\?/);
    await page.click('#confirm-cancel');
    await page.waitForTimeout(300);
    assert.notEqual(h.service.core.status().markets[0].state, 'paused', 'cancelled: nothing changed');
    await page.click('article[data-coin="ETH"] button[data-action="pause"]');
    await page.waitForSelector('#confirm[open]');
    await page.click('#confirm-ok');
    await waitFor(() => h.service.core.status().markets[0].state === 'paused' || undefined, 'paused');
    await page.waitForFunction(
      () => document.querySelector('article[data-coin="ETH"] .state')?.textContent === 'paused',
    );
    // Cancels confirmed by the venue: nothing rests, and nothing new is placed while paused.
    const eng = h.service.port.engine('ETH')!;
    await waitFor(() => eng.orders.openOrders().length === 0 || undefined, 'no resting orders');
    const placed = eng.orders.stats.placed;
    await page.waitForTimeout(1000);
    assert.equal(eng.orders.stats.placed, placed);
    const journalControl = h.service.core.alerts().alerts.find((a) => a.kind === 'control');
    assert.match(journalControl?.message ?? '', /ETH: pause \(by dashboard\)/);
    await page.waitForFunction(() =>
      /pause \(by dashboard\)/.test(document.querySelector('#alerts')?.textContent ?? ''),
    );

    if (process.env.CJMM_SCREENSHOT) {
      await page.click('article[data-coin="ETH"] button[data-action="resume"]');
      await page.click('#confirm-ok');
      await page.waitForTimeout(4000);
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'img', 'dashboard.png'), fullPage: true });
    }
    assert.deepEqual(errors, [], 'no page or console errors');
    assert.deepEqual(external, [], 'no request leaves the server (no CDN)');
    await page.close();
  });
});
