/**
 * A paper trading service against the loopback Hyperliquid server replaying the real ETH recording (20×):
 * the real trader, core, API and notifiers, as `cjmm demo --api` runs them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import type { TraderPort } from '../../src/rpc/session-port.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { type RunningService, runService } from '../../src/service/run.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import type { TraderSummary } from '../../src/trading/trader.ts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ETH } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

let cached: MarketEvent[] | undefined;
export async function ethEvents(): Promise<MarketEvent[]> {
  cached ??= (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  return cached;
}

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface Harness {
  server: LoopbackServer;
  service: RunningService & { port: TraderPort };
  url: string;
  dir: string;
  logs: string[];
  lines: string[];
  done: Promise<TraderSummary>;
  /** fetch with the bearer token. */
  get(path: string): Promise<{ status: number; body: unknown; headers: Headers }>;
  post(
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    service?: Record<string, unknown>;
    speed?: number;
    durationMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<Harness> {
  const events = await ethEvents();
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-service-'));
  const server = await startLoopbackServer({
    events,
    coins: ['ETH'],
    speed: opts.speed ?? 20,
    port: 0,
    shiftToNow: true,
    // The recording lasts ≈ 40 s of wall time at 20×: loop it, so a test that runs late on a loaded machine
    // still has a market (a flatten needs trades to fill its reduce-only order).
    loop: true,
  });
  const logs: string[] = [];
  const logger = createTradingLogger(
    'info',
    new Writable({
      write(c, _e, cb) {
        logs.push(String(c));
        cb();
      },
    }),
  );
  const config = parseServiceConfig(
    {
      coin: 'ETH',
      orderSize: 0.01,
      maxPosition: 3,
      network: 'loopback',
      httpUrl: server.httpUrl,
      wsUrl: server.wsUrl,
      journal: join(dir, 'journal.sqlite'),
      statusIntervalSec: 1,
      calibration: { windowSec: 120, refreshSec: 5 },
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
      api: { enabled: true, port: 0 },
      alerts: { fillsSummaryMin: 0.05, kappaEpsilonMax: 0.5, cooldownSec: 0 },
      ...opts.service,
    },
    {},
    {},
  );
  let ready: RunningService | undefined;
  const lines: string[] = [];
  const done = runService({
    config,
    logger,
    durationMs: opts.durationMs ?? 120_000,
    env: { CJMM_API_TOKEN: TEST_TOKEN, ...opts.env },
    trader: { paperLatencyMs: 20 },
    onStatusLine: (l) => lines.push(l),
    onReady: (s) => {
      ready = s;
    },
    notifyBackoffMs: 50,
  });
  done.catch(() => {});
  const service = (await waitFor(() => ready, 'the service to start')) as RunningService & {
    port: TraderPort;
  };
  const url = service.api ? service.api.url : '';
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const h: Harness = {
    server,
    service,
    url,
    dir,
    logs,
    lines,
    done,
    async get(path) {
      const r = await fetch(url + path, { headers: auth });
      return { status: r.status, body: await r.json(), headers: r.headers };
    },
    async post(path, body, headers = {}) {
      const r = await fetch(url + path, {
        method: 'POST',
        headers: {
          ...auth,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    },
    async close() {
      service.port.stop('test over', 'internal');
      await done.catch(() => {});
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
