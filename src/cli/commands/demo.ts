/**
 * `cjmm demo`: the main job fully offline. Starts the loopback Hyperliquid server in-process replaying a
 * recording, then runs the trader against its feed: paper, or with --live-protocol live through the real
 * execution adapter with a throwaway key registered as an API wallet on the loopback exchange. One coin, or
 * several with --coins (the recording where it has the coin, a synthetic world otherwise).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { readSource } from '../../marketdata/source.ts';
import { type LoadedConfig, loadServiceConfig, parseServiceConfig } from '../../service/config.ts';
import { demoWorld } from '../../service/demo-world.ts';
import { runService, ServiceError } from '../../service/run.ts';
import { ConfigError } from '../../trading/config.ts';
import { SessionError } from '../../trading/errors.ts';
import { type AgentKey, agentKeyFromHex } from '../../trading/keys.ts';
import { createTradingLogger } from '../../trading/logger.ts';
import { startLoopbackServer } from '../../venue/loopback/server.ts';
import { CliError } from '../errors.ts';
import { parseCoins } from './record.ts';
import { DEFAULT_CONFIG_PATH, finishRun, parseApiPort, parseDurationFlag } from './trade.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEFAULT_DEMO_DATA = resolve(REPO_ROOT, '..', 'shared', 'data', 'hyperliquid', 'seed-collector');

interface DemoFlags {
  data: string;
  coin: string;
  speed: string;
  duration: string;
  liveProtocol?: boolean;
  config: string;
  journal?: string;
  api?: boolean;
  apiPort?: string;
  coins?: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job offline: paper (or --live-protocol) market making against a local replay of a recording',
    )
    .option(
      '--data <path>',
      'recording to replay (seed-collector layout, a cjmm store, …)',
      DEFAULT_DEMO_DATA,
    )
    .option('--coin <coin>', 'coin in the recording', 'ETH')
    .option(
      '--coins <list>',
      'several markets in one process, e.g. ETH,BTC,SOL: the recording where it has the coin, else a synthetic world',
    )
    .option('--speed <x>', 'replay speed multiplier', '10')
    .option('--duration <s>', 'how long to run (seconds, or 90s / 5m)', '60s')
    .option(
      '--live-protocol',
      'trade through the live adapter (signed orders, streams) against the loopback exchange',
    )
    .option('--config <file>', 'trading config (network and mode are set by the demo)', DEFAULT_CONFIG_PATH)
    .option('--journal <path>', 'SQLite journal (default ./.cjmm/demo-paper.sqlite, or demo-live.sqlite)')
    .option('--api', 'serve the REST API, live stream and dashboard (127.0.0.1:8787 unless the config says)')
    .option('--api-port <n>', 'API port (implies --api; 0 = any free port)')
    .action(async (flags: DemoFlags) => {
      const speed = Number(flags.speed);
      if (!(speed > 0) || !Number.isFinite(speed) || speed > 1000) {
        throw new CliError(`--speed must be a number in (0, 1000]; got '${flags.speed}'`);
      }
      const durationMs = parseDurationFlag('--duration', flags.duration);
      if (flags.coins !== undefined) {
        await runMultiDemo(flags, speed, durationMs);
        return;
      }
      const apiPort = parseApiPort(flags.apiPort);
      const svc = { api: flags.api || apiPort !== undefined, apiPort };
      const dataPath = resolve(flags.data);
      if (!existsSync(dataPath)) {
        throw new CliError(
          `--data: ${dataPath} does not exist (the demo replays ../shared/data/hyperliquid/seed-collector by default; pass --data <recording>)`,
        );
      }
      // A throwaway master account and API wallet, registered on the loopback exchange only.
      const agentKey = agentKeyFromHex(generatePrivateKey(), 'demo throwaway key');
      const master = privateKeyToAccount(generatePrivateKey()).address;
      const mode = flags.liveProtocol ? ('live' as const) : ('dry-run' as const);
      const journal = flags.journal ?? `./.cjmm/demo-${flags.liveProtocol ? 'live' : 'paper'}.sqlite`;
      const common = { coin: flags.coin, mode, journal, masterAddress: master };
      // Validate the config before loading data or starting anything (the real URLs come with the server).
      const probe = {
        network: 'loopback' as const,
        httpUrl: 'http://127.0.0.1:1',
        wsUrl: 'ws://127.0.0.1:1/ws',
      };
      try {
        loadServiceConfig(flags.config, { ...probe, ...common }, svc);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        throw err;
      }
      console.log(`reading ${dataPath} (${flags.coin}) …`);
      const src = await readSource(dataPath, { coin: flags.coin }).catch((err: Error) => {
        throw new CliError(`--data: ${err.message}`);
      });
      if (src.events.length === 0)
        throw new CliError(`--data: no ${flags.coin} events in ${dataPath} (check --coin)`);

      const server = await startLoopbackServer({
        events: src.events,
        coins: [flags.coin],
        speed,
        port: 0,
        // A demo longer than the recording replays it again (times shifted forward) rather than going quiet.
        loop: true,
        // A demo account with $1M traded lifetime: mainnet then lets it arm scheduleCancel (the loopback
        // refuses it to younger accounts, as mainnet does).
        accounts: [{ address: master, lifetimeVolume: 1_000_000 }],
        agents: { [agentKey.address]: master },
      });
      const first = new Date(server.replay.now()).toISOString();
      console.log(
        `loopback Hyperliquid at ${server.httpUrl}: ${src.events.length} events from ${first} at ${speed}x (looped); ${
          flags.liveProtocol ? `live protocol, API wallet ${agentKey.address} for ${master}` : 'paper'
        }`,
      );
      try {
        const loaded = loadServiceConfig(
          flags.config,
          { network: 'loopback', httpUrl: server.httpUrl, wsUrl: server.wsUrl, ...common },
          svc,
        );
        await runDemoService(loaded, durationMs, flags.liveProtocol ? agentKey : undefined);
      } finally {
        await server.close();
      }
    });
}

/** `demo --coins`: several markets, one process, one loopback server replaying them all (paper or live). */
async function runMultiDemo(flags: DemoFlags, speed: number, durationMs: number): Promise<void> {
  const coins = parseCoins(flags.coins ?? '', '--coins');
  const apiPort = parseApiPort(flags.apiPort);
  const svc = { api: flags.api || apiPort !== undefined, apiPort };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(flags.config, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`--config: cannot read ${flags.config} (${(err as Error).message})`);
  }
  const dataPath = resolve(flags.data);
  const strategyName = String(((raw.strategy ?? {}) as Record<string, unknown>).strategy ?? 'cj');
  const live = flags.liveProtocol === true;
  const journal = flags.journal ?? `./.cjmm/demo-${live ? 'live' : 'paper'}.sqlite`;
  // A throwaway master account and API wallet, registered on the loopback exchange only.
  const agentKey = agentKeyFromHex(generatePrivateKey(), 'demo throwaway key');
  const master = privateKeyToAccount(generatePrivateKey()).address;
  const probe = { network: 'loopback' as const, httpUrl: 'http://127.0.0.1:1', wsUrl: 'ws://127.0.0.1:1/ws' };
  const build = (
    world: Awaited<ReturnType<typeof demoWorld>> | undefined,
    urls: { httpUrl: string; wsUrl: string },
  ) => {
    const markets = world
      ? world.markets.map((m) => m.overrides).filter((x) => Object.keys(x).length > 0)
      : [];
    const withMarkets =
      markets.length > 0
        ? {
            ...raw,
            markets: [
              ...markets,
              ...coins.filter((c) => !markets.some((m) => m.coin === c)).map((coin) => ({ coin })),
            ],
          }
        : raw;
    try {
      return parseServiceConfig(
        withMarkets,
        { network: 'loopback', ...urls, mode: live ? 'live' : 'dry-run', journal, masterAddress: master },
        svc,
        flags.config,
        coins,
      );
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message);
      throw err;
    }
  };
  build(undefined, probe); // the config is checked before any data is read
  console.log(`reading ${dataPath} (${coins.join(', ')}) …`);
  const world = await demoWorld(existsSync(dataPath) ? dataPath : undefined, coins, {
    durationSec: Math.max(120, (durationMs / 1000) * speed),
    strategy: strategyName,
  });
  const server = await startLoopbackServer({
    events: world.events,
    coins,
    speed,
    port: 0,
    loop: true,
    // $1M traded lifetime: mainnet then lets the account arm scheduleCancel.
    accounts: [{ address: master, lifetimeVolume: 1_000_000 }],
    agents: { [agentKey.address]: master },
  });
  console.log(
    `loopback Hyperliquid at ${server.httpUrl}: ${world.markets.map((m) => `${m.coin} ${m.source} (${m.events} events)`).join(', ')} from ${new Date(world.startTime).toISOString()} at ${speed}x (looped); ${
      live ? `live protocol, API wallet ${agentKey.address} for ${master}` : 'paper'
    }`,
  );
  try {
    const loaded = build(world, { httpUrl: server.httpUrl, wsUrl: server.wsUrl });
    await runDemoService(loaded, durationMs, live ? agentKey : undefined);
  } finally {
    await server.close();
  }
}

/** Runs the demo's service until its duration ends or SIGINT/SIGTERM, then prints the trader's summary. */
async function runDemoService(
  loaded: LoadedConfig,
  durationMs: number,
  key: AgentKey | undefined,
): Promise<void> {
  const config = loaded.trading;
  // Quieter than trade (status lines tell the story), but the API's address is worth a line.
  const logger = createTradingLogger(
    config.logLevel === 'info' ? (loaded.service.api.enabled ? 'info' : 'warn') : config.logLevel,
  );
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    finishRun(await runService({ config: loaded, logger, signal: ac.signal, durationMs, key }));
  } catch (err) {
    if (err instanceof SessionError || err instanceof ServiceError) throw new CliError(err.message, 1);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
