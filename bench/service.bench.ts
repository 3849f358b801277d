/**
 * The service's cost on the quoting path. A paper session (cj strategy, rolling calibration) trades the real ETH
 * recording replayed at 40× by the loopback server (in its own process); tick-to-order is the session's own
 * figure (book/bbo message received → order handed to the venue), counted from WARM_SEC after start: with the
 * API, that is while it is polled. Run without the API, then with the API, the
 * live dashboard open (chromium when installed, else a stream client; its own process) and the API polled at
 * 20 req/s (another process); alternated twice. API latency: in the server (arrival → response serialised and
 * handed over) and the poller's round trip. CPU time of this process and the load average are printed with each run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseServiceConfig } from '../src/service/config.ts';
import { demoWorld } from '../src/service/demo-world.ts';
import { type RunningService, runService } from '../src/service/run.ts';
import { createTradingLogger } from '../src/trading/logger.ts';
import { summarizeUs } from '../src/trading/tick-latency.ts';
import { startLoopbackServer } from '../src/venue/loopback/server.ts';
import { hasShared, SEED_ROOT } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

const here = dirname(fileURLToPath(import.meta.url));
// 90 s runs: ~580 ticks after the 15 s warm-up, so a p99 is not just the 2nd- or 3rd-worst tick (as at 40 s).
const SECONDS = Number(process.env.CJMM_BENCH_SERVICE_SEC ?? 90);
const SPEED = Number(process.env.CJMM_BENCH_SERVICE_SPEED ?? 40);
const TOKEN = 'bench-token-0123456789abcdef';
// Tick-to-order is counted from this long after start, in both kinds of run: with the API, polling starts then
// (the dashboard has loaded by then), so the "with" figure holds only ticks while the API is polled.
const WARM_SEC = Math.min(15, SECONDS / 2);

if (!hasShared) {
  console.log('service bench: ../shared/data not found; skipped');
  process.exit(0);
}

interface Child {
  proc: ChildProcess;
  firstLine: Promise<string>;
  lastLine: Promise<string>;
}

function child(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, [join(here, 'helpers', script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  let resolveFirst: (s: string) => void = () => {};
  const firstLine = new Promise<string>((r) => {
    resolveFirst = r;
  });
  const lastLine = new Promise<string>((resolve) => {
    proc.stdout!.on('data', (c) => {
      buf += c;
      const i = buf.indexOf('\n');
      if (i >= 0) resolveFirst(buf.slice(0, i));
    });
    proc.on('exit', () => resolve(buf.trim().split('\n').at(-1) ?? ''));
  });
  return { proc, firstLine, lastLine };
}

interface Run {
  withService: boolean;
  p50Us: number;
  p99Us: number;
  samples: number;
  /** The whole run's p99, warm-up included. */
  allP99Us: number;
  cpuSec: number;
  wallSec: number;
  load: number;
  api?: { requests: number; errors: number; rate: number; p50Us: number; p99Us: number };
  dashboard?: string;
  serverP50Us?: number;
  serverP99Us?: number;
}

async function run(withService: boolean): Promise<Run> {
  const lb = child('loopback-replay.ts', [String(SPEED)]);
  const { httpUrl, wsUrl } = JSON.parse(await lb.firstLine) as { httpUrl: string; wsUrl: string };
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-bench-service-'));
  const config = parseServiceConfig({
    coin: 'ETH',
    orderSize: 0.01,
    maxPosition: 5,
    network: 'loopback',
    httpUrl,
    wsUrl,
    journal: join(dir, 'journal.sqlite'),
    statusIntervalSec: 10,
    calibration: { windowSec: 300, refreshSec: 15 },
    strategy: {
      strategy: 'cj',
      phi: 0.001,
      priors: {
        lambdaPlus: 1.62,
        lambdaMinus: 1.1,
        kappaPlus: 8.4,
        kappaMinus: 8.58,
        epsilonPlus: 0.117,
        epsilonMinus: 0.147,
      },
    },
    api: { enabled: withService, port: 0 },
    logLevel: 'warn',
  });
  const logger = createTradingLogger('warn', new Writable({ write: (_c, _e, cb) => cb() }));
  let poller: Child | undefined;
  let dashboard: Child | undefined;
  let svc: RunningService | undefined;
  let windowFrom: number | undefined;
  let warmTimer: NodeJS.Timeout | undefined;
  const ethSamples = () => svc?.port.running?.markets.get('ETH')?.latency.samplesUs() ?? [];
  const server: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await runService({
    config,
    logger,
    durationMs: SECONDS * 1000,
    env: { CJMM_API_TOKEN: TOKEN },
    trader: { paperLatencyMs: 20 },
    onStatusLine: () => {},
    apiTiming: (_m, url, _status, us) => {
      if (!url.startsWith('/api/v1/stream')) server.push(us);
    },
    onReady: (s) => {
      svc = s;
      const url = s.api?.url;
      if (withService && url) dashboard = child('api-client.ts', ['dashboard', url, TOKEN]);
      // The window opens WARM_SEC after start (and, with the API, once the dashboard has loaded: its first page
      // load is not the steady state); polling runs from then to the end.
      warmTimer = setTimeout(() => {
        void (dashboard ? dashboard.firstLine : Promise.resolve('')).then(() => {
          windowFrom = ethSamples().length;
          const left = SECONDS - (performance.now() - t0) / 1000 - 1;
          if (url && withService)
            poller = child('api-client.ts', ['poll', url, TOKEN, '20', left.toFixed(1)]);
        });
      }, WARM_SEC * 1000);
    },
  });
  clearTimeout(warmTimer);
  const inWindow = summarizeUs(ethSamples().slice(windowFrom ?? 0));
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (performance.now() - t0) / 1000;
  const api = poller ? (JSON.parse(await poller.lastLine) as Run['api']) : undefined;
  let dashboardKind: string | undefined;
  if (dashboard) {
    dashboardKind = (JSON.parse(await dashboard.firstLine) as { dashboard: string }).dashboard;
    dashboard.proc.kill('SIGTERM');
    await dashboard.lastLine;
  }
  lb.proc.kill('SIGTERM');
  await lb.lastLine;
  rmSync(dir, { recursive: true, force: true });
  server.sort((a, b) => a - b);
  const sq = (x: number) => server[Math.min(server.length - 1, Math.floor(x * server.length))];
  return {
    withService,
    p50Us: inWindow.p50Us,
    p99Us: inWindow.p99Us,
    samples: inWindow.samples,
    allP99Us: summary.tickToOrder.p99Us,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    wallSec,
    load: loadavg()[0],
    api,
    dashboard: dashboardKind,
    serverP50Us: server.length ? sq(0.5) : undefined,
    serverP99Us: server.length ? sq(0.99) : undefined,
  };
}

const ms = (us: number | undefined, d = 3) => ((us ?? Number.NaN) / 1000).toFixed(d);
const runs: Run[] = [];
for (const withService of [false, true, false, true]) {
  const r = await run(withService);
  runs.push(r);
  const tag = withService ? 'with API + dashboard + 20 req/s' : 'without the API';
  const api = r.api
    ? `; dashboard: ${r.dashboard}; API ${r.api.requests} requests at ${r.api.rate.toFixed(1)}/s, ${r.api.errors} errors, in the server p50 ${ms(r.serverP50Us)} ms p99 ${ms(r.serverP99Us)} ms, round trip p50 ${ms(r.api.p50Us, 2)} ms p99 ${ms(r.api.p99Us, 2)} ms`
    : '';
  console.log(
    `  run ${runs.length} ${tag}: tick-to-order after ${WARM_SEC} s p50 ${ms(r.p50Us)} ms, p99 ${ms(r.p99Us)} ms (${r.samples} ticks; whole run p99 ${ms(r.allP99Us)} ms); CPU ${r.cpuSec.toFixed(1)} s in ${r.wallSec.toFixed(0)} s; load ${r.load.toFixed(2)}${api}`,
  );
}
const worst = (w: boolean) => Math.max(...runs.filter((r) => r.withService === w).map((r) => r.p99Us));
const apiRuns = runs.filter((r) => r.api);
const serverP99 = Math.max(...apiRuns.map((r) => r.serverP99Us ?? Number.NaN));
const roundP99 = Math.max(...apiRuns.map((r) => r.api!.p99Us));
report(
  'service: tick-to-order p99 without the API (worst of 2)',
  `${ms(worst(false))} ms`,
  '≤ 1 ms',
  worst(false) <= 1000,
);
report(
  'service: tick-to-order p99, API + dashboard + 20 req/s (worst of 2)',
  `${ms(worst(true))} ms`,
  '≤ 1 ms',
  worst(true) <= 1000,
);
report(
  'service: API p99 in the server at 20 req/s (worst of 2)',
  `${ms(serverP99)} ms`,
  '≤ 5 ms',
  serverP99 <= 5000,
);
report('service: API p99 round trip, client included (worst of 2)', `${ms(roundP99, 2)} ms`, '—');

// 10 coins in one process: ETH from the recording and 9 synthetic worlds, one loopback server (in this process:
// its CPU time is counted too, so the per-coin figure is an upper bound), one feed connection, the API on.
const COINS = ['ETH', 'BTC', 'SOL', 'ATOM', 'MATIC', 'DYDX', 'AVAX', 'ARB', 'OP', 'DOGE'];
{
  const world = await demoWorld(SEED_ROOT, COINS, { durationSec: SECONDS * SPEED + 120, strategy: 'cj' });
  const server = await startLoopbackServer({
    events: world.events,
    coins: COINS,
    speed: 20,
    port: 0,
    shiftToNow: true,
  });
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-bench-10-'));
  const config = parseServiceConfig({
    orderSize: 0.01,
    maxPosition: 5,
    network: 'loopback',
    httpUrl: server.httpUrl,
    wsUrl: server.wsUrl,
    journal: join(dir, 'journal.sqlite'),
    statusIntervalSec: 10,
    calibration: { windowSec: 300, refreshSec: 15 },
    strategy: {
      strategy: 'cj',
      phi: 0.001,
      priors: {
        lambdaPlus: 1.62,
        lambdaMinus: 1.1,
        kappaPlus: 8.4,
        kappaMinus: 8.58,
        epsilonPlus: 0.117,
        epsilonMinus: 0.147,
      },
    },
    markets: world.markets.map((m) => (Object.keys(m.overrides).length > 0 ? m.overrides : { coin: m.coin })),
    api: { enabled: true, port: 0 },
    logLevel: 'warn',
  });
  const logger = createTradingLogger('warn', new Writable({ write: (_c, _e, cb) => cb() }));
  let rssPeak = 0;
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const t = await runService({
    config,
    logger,
    durationMs: SECONDS * 1000,
    env: { CJMM_API_TOKEN: TOKEN },
    trader: { paperLatencyMs: 20 },
    onStatusLine: () => {},
  });
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  clearInterval(rssTimer);
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const fills = t.markets.reduce((a, m) => a + m.fills, 0);
  console.log(
    `  10 coins: ${t.markets.length} markets quoting, ${fills} fills, tick-to-order p50 ${ms(t.tickToOrder.p50Us)} ms p99 ${ms(t.tickToOrder.p99Us)} ms (${t.tickToOrder.samples} ticks); CPU ${cpuSec.toFixed(1)} s in ${wall.toFixed(0)} s (replay server included); peak RSS ${(rssPeak / 2 ** 20).toFixed(0)} MiB; load ${loadavg()[0].toFixed(2)}`,
  );
  report(
    'service: 10 coins, tick-to-order p99 (all markets)',
    `${ms(t.tickToOrder.p99Us)} ms`,
    '≤ 1 ms',
    t.tickToOrder.p99Us <= 1000,
  );
  report(
    'service: 10 coins, CPU per coin (incl. the replay server)',
    `${((100 * cpuSec) / wall / COINS.length).toFixed(2)} % of a core`,
    '—',
  );
  report('service: 10 coins, peak RSS', `${(rssPeak / 2 ** 20).toFixed(0)} MiB`, '—');
}
