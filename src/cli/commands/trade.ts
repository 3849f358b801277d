/**
 * `cjmm trade`: paper (default) or live market making on Hyperliquid; `cjmm trade status` and
 * `cjmm trade history` read the journal. Parsing only: src/trading does the work.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { type LoadedConfig, loadServiceConfig, type ServiceOverrides } from '../../service/config.ts';
import { runService, ServiceError } from '../../service/run.ts';
import { parseDurationMs } from '../../sim/latency.ts';
import { ConfigError, type ConfigOverrides, type TradingConfig } from '../../trading/config.ts';
import { SessionError } from '../../trading/errors.ts';
import { openExistingJournal } from '../../trading/journal.ts';
import { formatHistory, formatStatus } from '../../trading/journal-report.ts';
import { KeyError, loadAgentKey } from '../../trading/keys.ts';
import { createTradingLogger } from '../../trading/logger.ts';
import { formatAttribution } from '../../trading/status.ts';
import type { SessionSummary, TraderSummary } from '../../trading/trader.ts';
import { CliError } from '../errors.ts';
import { parseCoins } from './record.ts';
import { readStatusOverApi } from './status.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The default config: paper trading ETH on mainnet's public feed. */
export const DEFAULT_CONFIG_PATH = resolve(REPO_ROOT, 'config', 'default.json');
const DEFAULT_JOURNAL = './.cjmm/journal.sqlite';
const JOURNAL_TYPES = [
  'order',
  'ack',
  'reject',
  'fill',
  'cancel',
  'modify',
  'params',
  'risk',
  'state',
  'session',
  'funding',
  'adjustment',
];

/** '90' (seconds), '90s', '5m', '1500ms'. */
export function parseDurationFlag(flag: string, raw: string): number {
  const ms = /^\s*\d+(\.\d*)?\s*$/.test(raw) ? Number(raw) * 1000 : parseDurationMs(raw);
  if (ms === undefined || !(ms > 0)) {
    throw new CliError(`${flag} must be a positive duration in seconds (e.g. 60, 60s, 5m); got '${raw}'`);
  }
  return ms;
}

interface TradeFlags {
  config?: string;
  dryRun?: boolean;
  live?: boolean;
  coin?: string;
  coins?: string;
  network?: string;
  httpUrl?: string;
  wsUrl?: string;
  keyFile?: string;
  journal?: string;
  duration?: string;
  startupCleanup?: string;
  /** false with --no-guard (set only when given on the command line). */
  guard?: boolean;
  api?: boolean;
  apiPort?: string;
}

/** `--api-port <n>`: a TCP port (0 = any free one). */
export function parseApiPort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CliError(`--api-port must be a port number between 0 and 65535; got '${raw}'`);
  }
  return n;
}

/** Build the validated config from flags (exported for tests): every error names the flag or field. */
export function configFromFlags(flags: TradeFlags): TradingConfig {
  return serviceConfigFromFlags(flags).trading;
}

/** The trading config and the service sections (api, alerts, webhooks, telegram, record) from flags. */
export function serviceConfigFromFlags(flags: TradeFlags, service: ServiceOverrides = {}): LoadedConfig {
  if (flags.dryRun && flags.live) throw new CliError('--dry-run and --live: give one of them, not both');
  if (flags.network !== undefined && !['mainnet', 'testnet', 'loopback'].includes(flags.network)) {
    throw new CliError(`--network must be mainnet, testnet or loopback; got '${flags.network}'`);
  }
  if ((flags.httpUrl === undefined) !== (flags.wsUrl === undefined)) {
    throw new CliError('--http-url and --ws-url: give both (or neither)');
  }
  if (flags.startupCleanup !== undefined && !['own', 'all'].includes(flags.startupCleanup)) {
    throw new CliError(`--startup-cleanup must be own or all; got '${flags.startupCleanup}'`);
  }
  if (flags.coin !== undefined && flags.coins !== undefined) {
    throw new CliError('--coin and --coins: give one of them (--coins ETH,BTC for several markets)');
  }
  const coins = flags.coins === undefined ? undefined : parseCoins(flags.coins, '--coins');
  const overrides: ConfigOverrides = {
    coin: flags.coin,
    mode: flags.live ? 'live' : flags.dryRun ? 'dry-run' : undefined,
    network: flags.network as ConfigOverrides['network'],
    httpUrl: flags.httpUrl,
    wsUrl: flags.wsUrl,
    keyFile: flags.keyFile,
    journal: flags.journal,
    startupCleanup: flags.startupCleanup as ConfigOverrides['startupCleanup'],
    guard: flags.guard,
  };
  if (flags.httpUrl && flags.network === undefined) overrides.network = 'loopback';
  const svc: ServiceOverrides = { ...service };
  if (flags.api) svc.api = true;
  const apiPort = parseApiPort(flags.apiPort);
  if (apiPort !== undefined) {
    svc.api = true;
    svc.apiPort = apiPort;
  }
  let loaded: LoadedConfig;
  try {
    loaded = loadServiceConfig(flags.config ?? DEFAULT_CONFIG_PATH, overrides, svc, coins);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  return loaded;
}

export function printTraderSummary(t: TraderSummary): void {
  const a = t.account;
  const lines = [
    `trader ${t.mode} ${t.coins.join(', ')}: ${((t.stoppedAt - t.startedAt) / 1000).toFixed(1)} s, stopped (${t.stopReason})`,
    `  account: equity ${a.equity.toFixed(2)} USD, notional ${a.notional.toFixed(2)} USD, margin ${(100 * a.marginUse).toFixed(1)}%, drawdown ${(100 * a.drawdown).toFixed(2)}%, ${a.state.toUpperCase()}${a.reason ? ` (${a.reason})` : ''}`,
  ];
  for (const s of t.markets) {
    lines.push(
      `  ${s.coin}: position ${s.position}${s.exchangePosition !== undefined ? ` (exchange ${s.exchangePosition})` : ''}, net P&L ${s.netPnl.toFixed(2)} USD, ${s.fills} fills; orders ${s.ordersPlaced} placed, ${s.ordersModified} modified, ${s.rejects} rejected; resting after stop ${s.restingAfterStop}; ${s.tradingState}`,
    );
    if (s.pnlAttribution)
      lines.push(
        `    P&L attribution (USD${s.pnlAttributionReference && s.pnlAttributionReference !== 'mid' ? `, vs ${s.pnlAttributionReference}` : ''}): ${formatAttribution(s.pnlAttribution, 4)}`,
      );
  }
  lines.push(
    `  invariant violations: ${t.violations.length}; tick-to-order (all markets): ${tickToOrder(t.tickToOrder)}`,
    `  journal ${t.journal}`,
  );
  console.log(lines.join('\n'));
}

/** Prints the summary (one market: the session's, several: the trader's); throws (exit 1) when orders were left resting. */
export function finishRun(summary: TraderSummary): void {
  printRun(summary);
  if (summary.restingAfterStop !== 0) {
    throw new CliError(
      `${summary.restingAfterStop} order(s) still resting after stop: check the exchange`,
      1,
    );
  }
}

/** The tick-to-order figure, or a dash when no tick led to an order (not "NaN ms"). */
function tickToOrder(x: { p50Us: number; p99Us: number; samples: number }): string {
  if (!(x.samples > 0)) return '— (no tick led to an order)';
  return `p50 ${(x.p50Us / 1000).toFixed(2)} ms, p99 ${(x.p99Us / 1000).toFixed(2)} ms (${x.samples} samples)`;
}

/** One market: its session summary; several: the trader's. */
export function printRun(t: TraderSummary): void {
  if (t.markets.length === 1 && t.coins.length === 1) printSummary(t.markets[0]);
  else printTraderSummary(t);
}

export function printSummary(s: SessionSummary): void {
  const lines = [
    `session ${s.mode} ${s.coin}: ${((s.stoppedAt - s.startedAt) / 1000).toFixed(1)} s, stopped (${s.stopReason})`,
    `  position ${s.position}${s.exchangePosition !== undefined ? ` (exchange ${s.exchangePosition})` : ''}, net P&L ${s.netPnl.toFixed(2)} USD, ${s.fills} fills`,
    ...(s.pnlAttribution
      ? [
          `  P&L attribution (USD${s.pnlAttributionReference && s.pnlAttributionReference !== 'mid' ? `, vs ${s.pnlAttributionReference}` : ''}): ${formatAttribution(s.pnlAttribution, 4)}`,
        ]
      : []),
    `  orders: ${s.ordersPlaced} placed, ${s.ordersModified} modified, ${s.rejects} rejected; resting after stop: ${s.restingAfterStop}`,
    `  risk state ${s.tradingState}; invariant violations: ${s.violations.length}`,
    `  tick-to-order: ${tickToOrder(s.tickToOrder)}`,
    `  journal book ${s.coin}: position ${s.book.position}, realised P&L ${s.book.realisedPnl.toFixed(4)} USD, fees ${s.book.fees.toFixed(4)} USD, funding ${s.book.funding.toFixed(4)} USD (${s.book.fills} fills; this session's funding ${s.funding.toFixed(4)})`,
    `  journal ${s.journal} (${s.journalWrites.writes} transactions, write p99 ${(s.journalWrites.p99Us / 1000).toFixed(2)} ms)`,
  ];
  console.log(lines.join('\n'));
}

/** Run the trader (and the API/alerts when configured) until SIGINT/SIGTERM, the duration or a stop command. */
export async function runFromConfig(loaded: LoadedConfig, durationMs?: number): Promise<TraderSummary> {
  const config = loaded.trading;
  // The key is checked before anything starts (no connection, no journal).
  let key: ReturnType<typeof loadAgentKey> | undefined;
  if (config.mode === 'live') {
    try {
      key = loadAgentKey(config.account);
    } catch (err) {
      if (err instanceof KeyError) throw new CliError(err.message);
      throw err;
    }
  }
  const logger = createTradingLogger(config.logLevel);
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runService({ config: loaded, logger, signal: ac.signal, durationMs, key });
  } catch (err) {
    if (err instanceof SessionError || err instanceof KeyError || err instanceof ServiceError) {
      throw new CliError(err.message, 1);
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function register(program: Command): void {
  const trade = program
    .command('trade')
    .description(
      'market making on Hyperliquid: paper (--dry-run, default) or live (--live, needs an API wallet key)',
    )
    .option('--config <file>', 'trading config (JSON)', DEFAULT_CONFIG_PATH)
    .option('--dry-run', 'paper trading: live feed, simulated exchange (default)')
    .option(
      '--live',
      'live trading through the API wallet key (--key-file or the env variable in account.keyEnv)',
    )
    .option('--coin <coin>', 'coin to quote (overrides the config)')
    .option(
      '--coins <list>',
      'several markets in one process, paper or live, e.g. ETH,BTC,SOL (their `markets` entries, else the defaults)',
    )
    .option('--network <net>', 'mainnet | testnet | loopback (overrides the config)')
    .option('--http-url <url>', 'explicit REST endpoint (with --ws-url)')
    .option('--ws-url <url>', 'explicit WebSocket endpoint (with --http-url)')
    .option('--key-file <file>', 'API wallet private key file (mode 600)')
    .option('--journal <path>', 'SQLite journal (overrides the config)')
    .option('--duration <s>', 'stop after this long (seconds, or 90s / 5m)')
    .option(
      '--startup-cleanup <scope>',
      "live start-up cancels this trader's orders (own, default) or every order of the account (all)",
    )
    .option('--no-guard', 'live: do not start the guard process (run `cjmm guard` yourself)')
    .option('--api', 'serve the REST API, live stream and dashboard (config api: 127.0.0.1:8787 by default)')
    .option('--api-port <n>', 'API port (implies --api; 0 = any free port)')
    .action(async (flags: TradeFlags, cmd: Command) => {
      const durationMs =
        flags.duration === undefined ? undefined : parseDurationFlag('--duration', flags.duration);
      // Commander defaults --no-guard's value to true: only a flag given on the command line overrides the config.
      if (cmd.getOptionValueSource('guard') !== 'cli') flags.guard = undefined;
      const loaded = serviceConfigFromFlags(flags);
      finishRun(await runFromConfig(loaded, durationMs));
    });

  trade
    .command('status')
    .description(
      'position, open orders, last parameters and risk state: from a running process over its API (--url), else the journal',
    )
    .option('--journal <path>', `SQLite journal (default ${DEFAULT_JOURNAL})`)
    .option(
      '--url <url>',
      'API of a running cjmm (e.g. http://127.0.0.1:8787); token from CJMM_API_TOKEN or --token-file',
    )
    .option('--token-file <file>', 'API token file (default: api-token beside the journal)')
    .option('--json', 'print JSON')
    .action(
      async (flags: { journal?: string; json?: boolean; url?: string; tokenFile?: string }, cmd: Command) => {
        if (flags.url !== undefined) {
          await readStatusOverApi({
            url: flags.url,
            tokenFile: flags.tokenFile,
            journal: journalFlag(flags, cmd),
            json: flags.json,
          });
          return;
        }
        const j = openJournalOrFail(journalFlag(flags, cmd));
        try {
          const s = j.status();
          console.log(flags.json ? JSON.stringify(s, null, 2) : formatStatus(s));
        } finally {
          j.close();
        }
      },
    );

  trade
    .command('history')
    .description('the journal, newest last')
    .option('--journal <path>', `SQLite journal (default ${DEFAULT_JOURNAL})`)
    .option('--limit <n>', 'number of entries', '50')
    .option('--type <type>', `only one entry type: ${JOURNAL_TYPES.join(', ')}`)
    .option('--json', 'print JSON (one array)')
    .action((flags: { journal?: string; limit: string; type?: string; json?: boolean }, cmd: Command) => {
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit <= 0) {
        throw new CliError(`--limit must be a positive integer; got '${flags.limit}'`);
      }
      if (flags.type !== undefined && !JOURNAL_TYPES.includes(flags.type)) {
        throw new CliError(`--type must be one of ${JOURNAL_TYPES.join(', ')}; got '${flags.type}'`);
      }
      const j = openJournalOrFail(journalFlag(flags, cmd));
      try {
        const rows = j.history({ limit, type: flags.type });
        console.log(flags.json ? JSON.stringify(rows, null, 2) : formatHistory(rows));
      } finally {
        j.close();
      }
    });

  trade
    .command('prune')
    .description(
      'delete journal housekeeping rows (acks, rejects, cancels, parameter sets, status rows) older than a date; orders, fills, funding and adjustments are never deleted',
    )
    .requiredOption(
      '--before <date>',
      'cut-off: a date or time (2026-01-31, 2026-01-31T12:00:00Z; UTC unless a zone is given) or an age (30d, 12h)',
    )
    .option('--journal <path>', `SQLite journal (default ${DEFAULT_JOURNAL})`)
    .option('--dry-run', 'only count what would be deleted')
    .option(
      '--vacuum',
      'then rewrite the journal to its smallest size (VACUUM) and switch it to incremental auto-vacuum (journals made before it was the default never shrink otherwise)',
    )
    .option('--json', 'print JSON')
    .action(
      (
        flags: { before: string; journal?: string; dryRun?: boolean; vacuum?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        const before = parseBeforeFlag(flags.before);
        // `--dry-run` is also the parent `trade`'s flag (paper mode): commander may hand it to the parent.
        const dryRun =
          flags.dryRun ?? (cmd.parent?.opts() as { dryRun?: boolean } | undefined)?.dryRun ?? false;
        const j = openJournalOrFail(journalFlag(flags, cmd));
        try {
          const r = j.prune(before, { dryRun, vacuum: flags.vacuum === true });
          if (flags.json) {
            console.log(
              JSON.stringify({ journal: j.path, ...r, beforeIso: new Date(before).toISOString() }, null, 2),
            );
          } else {
            const n = Object.values(r.deleted).reduce((a, b) => a + b, 0);
            const what = Object.entries(r.deleted)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ');
            console.log(
              `${r.dryRun ? 'would delete' : 'deleted'} ${n} rows older than ${new Date(before).toISOString()}${what ? ` (${what})` : ''}; orders, fills, funding and adjustments kept`,
            );
            if (!r.dryRun)
              console.log(
                `journal ${j.path}: ${(r.bytesBefore / 1e6).toFixed(2)} MB → ${(r.bytesAfter / 1e6).toFixed(2)} MB${r.vacuumed ? ' (vacuumed)' : ''}`,
              );
            if (!r.incrementalVacuum)
              console.log(
                'note: this journal predates incremental auto-vacuum: freed space is reused by new rows but the file does not shrink; add --vacuum once to rewrite it',
              );
          }
        } finally {
          j.close();
        }
      },
    );
}

/** `--before`: an ISO date/time (UTC unless it names a zone) or an age such as 30d / 12h. */
export function parseBeforeFlag(raw: string, now = Date.now()): number {
  const age = /^\s*(\d+(?:\.\d+)?)\s*(d|h|m)\s*$/.exec(raw);
  if (age) {
    const unit = age[2] === 'd' ? 86_400_000 : age[2] === 'h' ? 3_600_000 : 60_000;
    return now - Number(age[1]) * unit;
  }
  const s = raw.trim();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(s)
    ? `${s}T00:00:00Z`
    : /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s)
      ? `${s}Z`
      : s;
  const t = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || !Number.isFinite(t)) {
    throw new CliError(
      `--before must be a date or time (2026-01-31, 2026-01-31T12:00:00Z) or an age (30d, 12h); got '${raw}'`,
    );
  }
  return t;
}

/** `trade status --journal X`: commander may hand the flag to the parent `trade` (same option name). */
function journalFlag(flags: { journal?: string }, cmd: Command): string {
  const parent = cmd.parent?.opts() as { journal?: string } | undefined;
  return flags.journal ?? parent?.journal ?? DEFAULT_JOURNAL;
}

function openJournalOrFail(path: string) {
  try {
    return openExistingJournal(path);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}
