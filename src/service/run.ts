/**
 * The service around the trader: the core of queries and controls, the REST API and dashboard, webhooks and
 * Telegram, wired to the trader (src/trading/trader.ts: one coin or many, paper or live) through its hooks.
 * `cjmm trade`, `cjmm demo` and `cjmm serve` all run through here (the API and notifiers only when configured).
 * Stop order: trading stops first (quotes cancelled and confirmed, journal flushed), then the last alerts are
 * delivered (bounded), then the API closes.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolveApiToken, TokenError } from '../api/auth.ts';
import { type ApiServer, startApiServer } from '../api/server.ts';
import { TelegramBot } from '../notify/telegram.ts';
import { WebhookNotifier } from '../notify/webhook.ts';
import { ServiceCore } from '../rpc/core.ts';
import { TraderPort } from '../rpc/session-port.ts';
import type { AgentKey } from '../trading/keys.ts';
import type { TradingLogger } from '../trading/logger.ts';
import { runTrader, type TraderOptions, type TraderSummary } from '../trading/trader.ts';
import { apiTokenPath, type LoadedConfig, type TelegramConfig } from './config.ts';

export interface ServiceRunOptions {
  config: LoadedConfig;
  logger: TradingLogger;
  signal?: AbortSignal;
  durationMs?: number;
  key?: AgentKey;
  env?: NodeJS.ProcessEnv;
  /** Extra trader options (tests: paper latency, feed, assets, hooks). */
  trader?: Partial<Omit<TraderOptions, 'markets' | 'accountRisk' | 'logger'>>;
  /** Called once the API listens (and the core runs). */
  onReady?: (s: RunningService) => void;
  /** Status lines (default stdout). */
  onStatusLine?: (line: string) => void;
  /** Backoff of webhook/Telegram retries (tests shorten it). */
  notifyBackoffMs?: number;
  /** Server-side time of each API request, arrival → response serialised (benchmarks). */
  apiTiming?: (method: string, url: string, status: number, micros: number) => void;
}

export interface RunningService {
  core: ServiceCore;
  port: TraderPort;
  api?: ApiServer;
  tokenPath?: string;
  webhooks?: WebhookNotifier;
  telegram?: TelegramBot;
}

export class ServiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** The Telegram bot token: tokenFile (mode 600) or the environment variable; never logged. */
export function telegramToken(t: TelegramConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (t.tokenFile) {
    let mode: number;
    try {
      mode = statSync(t.tokenFile).mode;
    } catch (err) {
      throw new ServiceError(
        `telegram.tokenFile: cannot read ${t.tokenFile} (${(err as NodeJS.ErrnoException).code})`,
      );
    }
    if ((mode & 0o077) !== 0) {
      throw new ServiceError(
        `telegram.tokenFile: ${t.tokenFile} is readable by others; run chmod 600 ${t.tokenFile}`,
      );
    }
    const v = readFileSync(t.tokenFile, 'utf8').trim();
    if (!v) throw new ServiceError(`telegram.tokenFile: ${t.tokenFile} is empty`);
    return v;
  }
  const v = env[t.tokenEnv];
  if (!v) {
    throw new ServiceError(
      `telegram: no bot token: set ${t.tokenEnv} (telegram.tokenEnv) or telegram.tokenFile (a file of mode 600)`,
    );
  }
  return v;
}

/** The core, API and notifiers around a trading run; `trade` runs the trading side with the port's hooks. */
async function withService<T extends { stopReason: string }>(
  o: ServiceRunOptions,
  port: TraderPort,
  trade: (signal: AbortSignal, printLine: (l: string) => void) => Promise<T>,
): Promise<T> {
  const { config, logger } = o;
  const { service } = config;
  const env = o.env ?? process.env;
  // Everything that can be refused is checked before trading starts.
  const tgToken = service.telegram ? telegramToken(service.telegram, env) : undefined;
  const core = new ServiceCore({
    port,
    alerts: service.alerts,
    onListenerError: (err) => logger.warn({ err: String(err) }, 'event listener failed'),
  });
  const running: RunningService = { core, port };
  const ac = new AbortController();
  const onAbort = () => port.stop('signal', 'signal');
  if (o.signal?.aborted) ac.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  port.onStopRequest = () => ac.abort();

  let api: ApiServer | undefined;
  let endReason = 'error';
  try {
    core.start();
    if (service.api.enabled) {
      const tokenPath = apiTokenPath(config);
      let tok: ReturnType<typeof resolveApiToken>;
      try {
        tok = resolveApiToken(tokenPath, env);
      } catch (err) {
        if (err instanceof TokenError) throw new ServiceError(err.message);
        throw err;
      }
      try {
        api = await startApiServer({
          core,
          token: tok.token,
          host: service.api.host,
          port: service.api.port,
          logger,
          onRequestTiming: o.apiTiming,
        });
      } catch (err) {
        throw new ServiceError(
          `api: cannot listen on ${service.api.host}:${service.api.port} (${(err as Error).message}); choose another --api-port`,
        );
      }
      running.api = api;
      running.tokenPath = tok.path;
      logger.info(
        { api: api.url, token: tok.source === 'env' ? 'CJMM_API_TOKEN' : tok.path },
        tok.source === 'env'
          ? 'API listening (bearer token from CJMM_API_TOKEN)'
          : 'API listening (bearer token written to the token file; open the dashboard at /?token=<token> once)',
      );
    }
    if (service.webhooks.length > 0) {
      running.webhooks = new WebhookNotifier({
        targets: service.webhooks,
        bus: core.bus,
        mode: port.mode,
        logger,
        backoffMs: o.notifyBackoffMs,
      });
    }
    if (service.telegram && tgToken) {
      running.telegram = new TelegramBot({
        token: tgToken,
        chatId: String(service.telegram.chatId),
        apiUrl: service.telegram.apiUrl,
        core,
        events: service.telegram.events,
        pollTimeoutSec: service.telegram.pollTimeoutSec,
        logger,
        backoffMs: o.notifyBackoffMs,
      });
      running.telegram.start();
    }
    o.onReady?.(running);
    const printLine = o.onStatusLine ?? ((l: string) => process.stdout.write(`${l}\n`));
    const result = await trade(
      AbortSignal.any([ac.signal, ...(o.trader?.signal ? [o.trader.signal] : [])]),
      printLine,
    );
    endReason = result.stopReason;
    return result;
  } catch (err) {
    endReason = `error: ${(err as Error).message}`;
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    port.end(endReason);
    core.sample();
    await Promise.all([running.webhooks?.close(5000), running.telegram?.close(5000)]);
    core.close();
    await api?.close();
  }
}

/** The trader (one coin or many, paper or live) with the service around it. */
export async function runService(o: ServiceRunOptions): Promise<TraderSummary> {
  const port = new TraderPort(o.config.markets);
  const t = o.trader ?? {};
  return withService(o, port, (signal, printLine) =>
    runTrader({
      ...t,
      markets: o.config.markets,
      accountRisk: o.config.accountRisk,
      logger: o.logger,
      signal,
      durationMs: o.durationMs,
      key: o.key ?? t.key,
      strategy: t.strategy ?? port.strategyFactory,
      journalTap: port.journalTap,
      onStarted: (r) => {
        port.onStarted(r);
        t.onStarted?.(r);
      },
      onMarketStarted: (m) => {
        port.onMarketStarted(m.coin, m.engine);
        t.onMarketStarted?.(m);
      },
      onStatus: (line, snap) => {
        if (t.onStatus) t.onStatus(line, snap);
        else printLine(line);
      },
      onAccountLine: t.onAccountLine ?? printLine,
    }),
  );
}
