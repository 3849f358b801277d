/** `cjmm record`: record Hyperliquid l2Book / trades / bbo of several coins into the store until stopped. */
import type { Command } from 'commander';
import pino from 'pino';
import { FEED_CHANNELS, type FeedChannel } from '../../marketdata/feed.ts';
import { createRecorder } from '../../marketdata/recorder.ts';
import { type MarketStore, openStore, StoreError } from '../../marketdata/store/index.ts';
import { logDestination } from '../../util/log.ts';
import { createMarketFeed, fetchMeta, type Network, resolveUrls } from '../../venue/hyperliquid/feed.ts';
import { CliError } from '../errors.ts';

interface RecordFlags {
  coins: string;
  store: string;
  network: string;
  httpUrl?: string;
  wsUrl?: string;
  channels: string;
  flushInterval: string;
  staleAfter: string;
  statusInterval: string;
  maxBuffer: string;
}

export function positiveNumber(raw: string, flag: string, unit: string): number {
  const x = Number(raw);
  if (!Number.isFinite(x) || x <= 0)
    throw new CliError(`${flag} must be a positive number of ${unit}; got '${raw}'`);
  return x;
}

export function parseCoins(raw: string, flag: string): string[] {
  const coins = raw
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  if (coins.length === 0) throw new CliError(`${flag} needs at least one coin, e.g. ${flag} ETH,BTC`);
  return [...new Set(coins)];
}

export function parseNetwork(raw: string): Network {
  if (raw !== 'mainnet' && raw !== 'testnet' && raw !== 'loopback') {
    throw new CliError(`--network must be mainnet, testnet or loopback; got '${raw}'`);
  }
  return raw;
}

function parseUrl(raw: string | undefined, flag: string, protocols: string[]): string | undefined {
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(`${flag} is not a URL: '${raw}'`);
  }
  if (!protocols.includes(u.protocol))
    throw new CliError(`${flag} must use ${protocols.join(' or ')}; got '${raw}'`);
  return raw.replace(/\/$/, '');
}

export function register(program: Command): void {
  program
    .command('record')
    .description('record Hyperliquid l2Book, trades and bbo into the store until SIGINT/SIGTERM')
    .requiredOption('--coins <list>', 'comma-separated coins, e.g. ETH,BTC')
    .requiredOption('--store <dir>', 'store folder (created if missing)')
    .option('--network <name>', 'mainnet | testnet | loopback (127.0.0.1:8321)', 'mainnet')
    .option('--http-url <url>', 'explicit HTTP API base URL (overrides --network)')
    .option('--ws-url <url>', 'explicit WebSocket URL (overrides --network)')
    .option('--channels <list>', `channels to record (${FEED_CHANNELS.join(',')})`, FEED_CHANNELS.join(','))
    .option('--flush-interval <s>', 'write buffered data every N seconds', '10')
    .option(
      '--stale-after <s>',
      "no book message (l2Book/bbo) of a coin for N seconds = gap + reconnect (trades don't count: quiet markets have none for minutes)",
      '30',
    )
    .option('--status-interval <s>', 'one-line status every N seconds', '10')
    .option('--max-buffer <n>', 'flush early when this many events are buffered', '50000')
    .action(async (flags: RecordFlags) => {
      const coins = parseCoins(flags.coins, '--coins');
      const channels = flags.channels.split(',').map((c) => c.trim()) as FeedChannel[];
      for (const c of channels) {
        if (!FEED_CHANNELS.includes(c)) {
          throw new CliError(`--channels: unknown channel '${c}'; valid: ${FEED_CHANNELS.join(', ')}`);
        }
      }
      const flushS = positiveNumber(flags.flushInterval, '--flush-interval', 'seconds');
      const staleS = positiveNumber(flags.staleAfter, '--stale-after', 'seconds');
      const statusS = positiveNumber(flags.statusInterval, '--status-interval', 'seconds');
      const maxBuffer = positiveNumber(flags.maxBuffer, '--max-buffer', 'events');
      const urls = resolveUrls({
        network: parseNetwork(flags.network),
        httpUrl: parseUrl(flags.httpUrl, '--http-url', ['http:', 'https:']),
        wsUrl: parseUrl(flags.wsUrl, '--ws-url', ['ws:', 'wss:']),
      });
      const logger = pino({ name: 'cjmm-record', base: undefined }, logDestination(2));

      // Refuse unknown coins before anything is written.
      let universe: string[];
      try {
        universe = (await fetchMeta(urls.httpUrl, AbortSignal.timeout(15_000))).map((a) => a.coin);
      } catch (err) {
        throw new CliError(
          `cannot read meta from ${urls.httpUrl} (--http-url / --network): ${(err as Error).message}`,
        );
      }
      const unknown = coins.filter((c) => !universe.includes(c));
      if (unknown.length > 0) {
        throw new CliError(`--coins: ${unknown.join(', ')} not listed by ${urls.httpUrl}/info meta`);
      }

      let store: MarketStore;
      try {
        store = await openStore(flags.store);
      } catch (err) {
        throw new CliError(`--store ${flags.store}: ${(err as Error).message}`);
      }
      let fatal: unknown;
      const recorder = createRecorder({
        sink: store,
        flushIntervalMs: flushS * 1000,
        statusIntervalMs: statusS * 1000,
        maxBufferedEvents: maxBuffer,
        logger,
        isPermanentWriteError: (err) => err instanceof StoreError,
        onFatal: (err) => {
          fatal = err;
          process.kill(process.pid, 'SIGTERM');
        },
        makeFeed: (h) =>
          createMarketFeed({
            wsUrl: urls.wsUrl,
            coins,
            channels,
            staleAfterMs: staleS * 1000,
            onEvents: h.onEvents,
            onGap: h.onGap,
            logger,
          }),
      });
      let stopping: Promise<void> | undefined;
      const stop = (signal: string) => {
        stopping ??= (async () => {
          logger.info({ signal }, 'stopping: flushing buffered data');
          await recorder.stop();
          await store.close();
          logger.info({ store: store.dir }, fatal ? 'stopped after a fatal store error' : 'stopped cleanly');
        })();
        return stopping;
      };
      const done = new Promise<void>((resolve, reject) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) {
          process.once(sig, () => stop(sig).then(resolve, reject));
        }
      });
      try {
        await recorder.start();
      } catch (err) {
        await stop('startup failure').catch(() => {});
        throw new CliError(
          `cannot subscribe at ${urls.wsUrl} (--ws-url / --network): ${(err as Error).message}`,
        );
      }
      logger.info(
        { coins, channels, store: store.dir, ws: urls.wsUrl },
        'recording (SIGINT/SIGTERM to stop)',
      );
      await done;
      if (fatal) throw new CliError(`--store ${flags.store}: ${(fatal as Error).message}`, 1);
    });
}
