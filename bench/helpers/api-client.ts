/**
 * Child processes of the service bench. `dashboard`: the real dashboard open in chromium when /usr/bin/chromium
 * exists (else a client of the live stream it follows), until SIGTERM. `poll`: the API polled at the given rate,
 * rotating over status, orders, fills, pnl, quotes and markets; prints the round trips as JSON.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [mode, url, token, rateRaw, secondsRaw] = process.argv.slice(2);
const headers = { authorization: `Bearer ${token}` };
const CHROMIUM = '/usr/bin/chromium';

if (mode === 'dashboard') {
  let close: () => Promise<void>;
  let kind: string;
  if (existsSync(CHROMIUM)) {
    const profile = mkdtempSync(join(tmpdir(), 'cjmm-bench-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1500, height: 1800 },
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
    const page = await ctx.newPage();
    await page.goto(`${url}/?token=${token}`);
    await page.waitForFunction(
      () => (globalThis as unknown as { cjmmDashboard?: { ready: boolean } }).cjmmDashboard?.ready === true,
    );
    kind = 'chromium';
    close = async () => {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    };
  } else {
    const ac = new AbortController();
    const r = await fetch(`${url}/api/v1/stream`, { headers, signal: ac.signal });
    const reader = r.body!.getReader();
    void (async () => {
      try {
        while (!(await reader.read()).done) {}
      } catch {}
    })();
    kind = 'stream client';
    close = async () => ac.abort();
  }
  process.stdout.write(`${JSON.stringify({ dashboard: kind })}\n`);
  process.on('SIGTERM', () => {
    void close().then(() => process.exit(0));
  });
} else {
  const rate = Number(rateRaw);
  const seconds = Number(secondsRaw);
  const paths = [
    '/api/v1/status',
    '/api/v1/orders',
    '/api/v1/fills',
    '/api/v1/pnl',
    '/api/v1/quotes',
    '/api/v1/markets',
  ];
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  let i = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = paths[i % paths.length];
    const s = performance.now();
    try {
      const r = await fetch(url + p, { headers });
      await r.arrayBuffer();
      if (!r.ok) errors++;
      else lat.push((performance.now() - s) * 1000);
    } catch {
      errors++;
    }
    i++;
  }
  lat.sort((a, b) => a - b);
  const q = (x: number) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))];
  process.stdout.write(
    `${JSON.stringify({ requests: lat.length, errors, rate: lat.length / seconds, p50Us: q(0.5), p99Us: q(0.99) })}\n`,
  );
}
