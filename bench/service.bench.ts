/**
 * The service's cost on the quoting path. A paper session (cj strategy, rolling calibration) trades the real ETH
 * recording replayed at 20× by the loopback server (in its own process); tick-to-order is the session's own
 * figure (book/bbo message received → order handed to the venue). Run without the API, then with the API, the
 * live dashboard open (chromium when installed, else a stream client) and the API polled at 20 req/s from another
 * process; alternated twice. API latency is the poller's round trip. CPU time of this process and the load
 * average are printed with each run (the machine may be shared).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseServiceConfig } from '../src/service/config.ts';
import { type RunningService, runService } from '../src/service/run.ts';
import { createTradingLogger } from '../src/trading/logger.ts';
import { hasShared } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.CJMM_BENCH_SERVICE_SEC ?? 30);
const TOKEN = 'bench-token-0123456789abcdef';

if (!hasShared) {
  console.log('service bench: ../shared/data not found; skipped');
  process.exit(0);
}

function child(
  script: string,
  args: string[],
): { proc: ChildProcess; firstLine: Promise<string>; lastLine: Promise<string> } {
  const proc = spawn(process.execPath, [join(here, 'helpers', script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  let resolveFirst: (s: string) => void = () => {};
  const firstLine = new Promise<string>((r) => (resolveFirst = r));
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
  cpuSec: number;
  wallSec: number;
  load: number;
  api?: { dashboard: string; requests: number; errors: number; rate: number; p50Us: number; p99Us: number };
}

async function run(withService: boolean): Promise<Run> {
  const lb = child('loopback-replay.ts', ['20']);
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
  let svc: RunningService | undefined;
  let client: ReturnType<typeof child> | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await runService({
    config,
    logger,
    durationMs: SECONDS * 1000,
    env: { CJMM_API_TOKEN: TOKEN },
    session: { paperLatencyMs: 20 },
    onStatusLine: () => {},
    onReady: (s) => {
      svc = s;
      if (withService && s.api)
        client = child('api-client.ts', [s.api.url, TOKEN, '20', String(SECONDS - 5)]);
    },
  });
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (performance.now() - t0) / 1000;
  const api = client ? (JSON.parse(await client.lastLine) as Run['api']) : undefined;
  lb.proc.kill('SIGTERM');
  await new Promise((r) => lb.proc.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
  void svc;
  return {
    withService,
    p50Us: summary.tickToOrder.p50Us,
    p99Us: summary.tickToOrder.p99Us,
    samples: summary.tickToOrder.samples,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    wallSec,
    load: loadavg()[0],
    api,
  };
}

const runs: Run[] = [];
for (const withService of [false, true, false, true]) {
  const r = await run(withService);
  runs.push(r);
  const tag = withService ? 'with API + dashboard + 20 req/s' : 'without the API';
  console.log(
    `  run ${runs.length} ${tag}: tick-to-order p50 ${(r.p50Us / 1000).toFixed(3)} ms, p99 ${(r.p99Us / 1000).toFixed(3)} ms (${r.samples} ticks); CPU ${r.cpuSec.toFixed(1)} s in ${r.wallSec.toFixed(0)} s; load ${r.load.toFixed(2)}` +
      (r.api
        ? `; API (${r.api.dashboard}) ${r.api.requests} requests at ${r.api.rate.toFixed(1)}/s, p50 ${(r.api.p50Us / 1000).toFixed(2)} ms, p99 ${(r.api.p99Us / 1000).toFixed(2)} ms, ${r.api.errors} errors`
        : ''),
  );
}
const worst = (w: boolean, k: 'p99Us' | 'p50Us') =>
  Math.max(...runs.filter((r) => r.withService === w).map((r) => r[k]));
const apiP99 = Math.max(...runs.filter((r) => r.api).map((r) => r.api!.p99Us));
report(
  'service: tick-to-order p99 without the API (worst of 2 runs)',
  `${(worst(false, 'p99Us') / 1000).toFixed(3)} ms`,
  '≤ 1 ms',
  worst(false, 'p99Us') <= 1000,
);
report(
  'service: tick-to-order p99 with API, dashboard open, 20 req/s (worst of 2)',
  `${(worst(true, 'p99Us') / 1000).toFixed(3)} ms`,
  '≤ 1 ms',
  worst(true, 'p99Us') <= 1000,
);
report(
  'service: API round trip p99 at 20 req/s (worst of 2)',
  `${(apiP99 / 1000).toFixed(2)} ms`,
  '≤ 5 ms',
  apiP99 <= 5000,
);
