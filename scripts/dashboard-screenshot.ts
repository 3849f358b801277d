/**
 * The README's dashboard picture, reproducibly: runs `cjmm demo --coins <list> --api-port 0` (the real ETH
 * recording, synthetic worlds for coins it lacks), opens the dashboard in Debian's chromium (playwright-core) with
 * the token the demo wrote, waits, takes the picture (the header, every coin's charts and the top of the tables),
 * then stops the demo with SIGTERM.
 *
 *   node scripts/dashboard-screenshot.ts [--coins ETH,BTC] [--after 55] [--speed 20] [--width 1280]
 *                                        [--scale 0.75] [--below 110]
 *                                        [--out docs/img/dashboard-coins.png]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: o } = parseArgs({
  options: {
    coins: { type: 'string', default: 'ETH,BTC' },
    after: { type: 'string', default: '55' },
    // CSS pixels kept below the last coin: the top of the alerts, orders and fills.
    below: { type: 'string', default: '110' },
    speed: { type: 'string', default: '20' },
    width: { type: 'string', default: '1280' },
    // Pixels per CSS pixel: 0.75 makes a 960-pixel-wide picture (about what a README shows) under 300 KB.
    scale: { type: 'string', default: '0.75' },
    out: { type: 'string', default: join(root, 'docs', 'img', 'dashboard-coins.png') },
    chromium: { type: 'string', default: process.env.CJMM_CHROMIUM ?? '/usr/bin/chromium' },
  },
});
const afterSec = Number(o.after);
const dir = mkdtempSync(join(tmpdir(), 'cjmm-shot-'));
const demo = spawn(
  process.execPath,
  [
    join(root, 'src', 'cli', 'main.ts'),
    '--log-json',
    'demo',
    '--coins',
    o.coins,
    '--speed',
    o.speed,
    '--duration',
    String(afterSec + 60),
    '--api-port',
    '0',
    '--journal',
    join(dir, 'journal.sqlite'),
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
try {
  // The API's address and the token file's path, from the demo's "API listening" log line.
  const api = await new Promise<{ url: string; tokenFile: string }>((resolve, reject) => {
    let buf = '';
    demo.stderr!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('API listening')) continue;
        const j = JSON.parse(line) as { api: string; token: string };
        resolve({ url: j.api, tokenFile: j.token });
      }
    });
    demo.on('exit', (code) =>
      reject(new Error(`the demo exited (${code}) before its API listened:\n${buf}`)),
    );
  });
  const token = readFileSync(api.tokenFile, 'utf8').trim();
  const browser = await chromium.launch({
    executablePath: o.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const width = Number(o.width);
    const page = await browser.newPage({
      viewport: { width, height: 1000 },
      deviceScaleFactor: Number(o.scale),
    });
    await page.goto(`${api.url}/?token=${token}`);
    await page.waitForFunction('window.cjmmDashboard && window.cjmmDashboard.ready === true');
    await page.waitForTimeout(afterSec * 1000);
    // Down to the top of the tables below the last coin (the full tables make a picture twice the size).
    const height = (await page.evaluate(
      `(() => { const a = [...document.querySelectorAll('article[data-coin]')].at(-1);
        return Math.ceil(a.getBoundingClientRect().bottom + window.scrollY + ${Number(o.below)}); })()`,
    )) as number;
    await page.screenshot({ path: o.out, clip: { x: 0, y: 0, width, height }, fullPage: true });
    const px = (n: number) => Math.round(n * Number(o.scale));
    console.log(`${o.out}: ${px(width)}×${px(height)}, ${(statSync(o.out).size / 1024).toFixed(0)} KB`);
  } finally {
    await browser.close();
  }
} finally {
  demo.kill('SIGTERM');
  await new Promise((r) => demo.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
