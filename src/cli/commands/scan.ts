/**
 * `cjmm scan --data <store> [--coins …] [--json] [--report]`: rank coins by expected market-making edge from
 * recorded data (with `--live`, from a fresh sample of each coin's feed, stored into --data first).
 * Parsing, sampling and printing only; src/scan does the work.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import pino from 'pino';
import { describeFeeTier, feesForTier, parseFeeTier } from '../../exchange/fees.ts';
import type { Gap, MarketEvent } from '../../marketdata/events.ts';
import { readSource, SourceError } from '../../marketdata/source.ts';
import { openStore } from '../../marketdata/store/index.ts';
import { sampleLive, unknownCoins } from '../../scan/live.ts';
import { formatScan, type ScanReport, scanHtml, scanJson } from '../../scan/report.ts';
import {
  DEFAULT_SCAN_OPTIONS,
  DRIFT_POLICIES,
  type DriftPolicy,
  rankScan,
  type ScanOptions,
  scanCoin,
} from '../../scan/scan.ts';
import { parseDurationMs } from '../../sim/latency.ts';
import { resolveUrls } from '../../venue/hyperliquid/feed.ts';
import { CliError } from '../errors.ts';
import { parseCoins, parseNetwork } from './record.ts';

interface ScanFlags {
  data: string;
  coins?: string;
  json?: boolean;
  report?: string;
  window: string;
  markout: string;
  feeTier?: string;
  makerFee?: string;
  notional: string;
  phi?: string;
  inventoryStd?: string;
  qMax: string;
  drift: string;
  live?: boolean;
  sample: string;
  network: string;
  httpUrl?: string;
  wsUrl?: string;
}

function number(flag: string, raw: string, ok: (v: number) => boolean, range: string): number {
  const v = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v) || !ok(v)) throw new CliError(`${flag} must be ${range} (got ${raw})`);
  return v;
}

function duration(flag: string, raw: string, min: number): number {
  const ms = parseDurationMs(raw);
  if (ms === undefined || !(ms >= min))
    throw new CliError(
      `${flag} must be a duration such as 30s, 5m or 1h (at least ${min / 1000} s; got ${raw})`,
    );
  return ms;
}

function options(flags: ScanFlags): { opts: ScanOptions; feeLabel?: string } {
  if (!DRIFT_POLICIES.includes(flags.drift as DriftPolicy))
    throw new CliError(`--drift must be one of ${DRIFT_POLICIES.join('|')} (got ${flags.drift})`);
  let fees = { ...DEFAULT_SCAN_OPTIONS.fees };
  let feeLabel: string | undefined;
  if (flags.feeTier !== undefined) {
    try {
      const t = parseFeeTier(flags.feeTier);
      fees = feesForTier(t);
      feeLabel = describeFeeTier(t);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
  }
  if (flags.makerFee !== undefined) {
    fees.maker = number(
      '--maker-fee',
      flags.makerFee,
      (v) => v > -0.005 && v < 0.005,
      'a fraction in (−0.005, 0.005)',
    );
    feeLabel = undefined;
  }
  return {
    feeLabel,
    opts: {
      windowMs:
        flags.window === 'all' ? Number.POSITIVE_INFINITY : duration('--window', flags.window, 60_000),
      markoutMs: duration('--markout', flags.markout, 0),
      fees,
      notionalUsd: number('--notional', flags.notional, (v) => v > 0, 'a positive USD amount'),
      phi:
        flags.phi !== undefined
          ? number('--phi', flags.phi, (v) => v >= 0, 'a number ≥ 0 (USD/(lot²·s))')
          : undefined,
      inventoryTarget:
        flags.inventoryStd !== undefined
          ? {
              stdLots: number(
                '--inventory-std',
                flags.inventoryStd,
                (v) => v > 0,
                'a positive number of lots',
              ),
            }
          : { ...DEFAULT_SCAN_OPTIONS.inventoryTarget },
      qMax: number(
        '--q-max',
        flags.qMax,
        (v) => Number.isInteger(v) && v >= 1 && v <= 1000,
        'an integer 1–1000',
      ),
      drift: flags.drift as DriftPolicy,
    },
  };
}

async function run(flags: ScanFlags): Promise<void> {
  const { opts, feeLabel } = options(flags);
  const wanted = flags.coins !== undefined ? parseCoins(flags.coins, '--coins') : undefined;
  let events: MarketEvent[];
  let gaps: Gap[];
  let live: ScanReport['live'];
  if (flags.live) {
    if (!wanted)
      throw new CliError('--live needs --coins (the coins whose feeds to sample), e.g. --coins ETH,BTC');
    const sampleMs = duration('--sample', flags.sample, 1000);
    const urls = resolveUrls({
      network: parseNetwork(flags.network),
      httpUrl: flags.httpUrl,
      wsUrl: flags.wsUrl,
    });
    let unknown: string[];
    try {
      unknown = await unknownCoins(urls.httpUrl, wanted);
    } catch (err) {
      throw new CliError(
        `cannot read meta from ${urls.httpUrl} (--http-url / --network): ${(err as Error).message}`,
      );
    }
    if (unknown.length > 0)
      throw new CliError(`--coins: ${unknown.join(', ')} not listed by ${urls.httpUrl}/info meta`);
    const logger = pino(
      { name: 'cjmm-scan', base: undefined, level: 'warn' },
      pino.destination({ dest: 2, sync: true }),
    );
    const abort = new AbortController();
    const onSig = () => abort.abort();
    process.once('SIGINT', onSig);
    process.stderr.write(`sampling ${wanted.join(', ')} from ${urls.wsUrl} for ${sampleMs / 1000} s …\n`);
    let sample: Awaited<ReturnType<typeof sampleLive>>;
    try {
      sample = await sampleLive({
        httpUrl: urls.httpUrl,
        wsUrl: urls.wsUrl,
        coins: wanted,
        durationMs: sampleMs,
        logger,
        signal: abort.signal,
        onProgress: (n, ms) => process.stderr.write(`  ${Math.round(ms / 1000)} s: ${n} events\n`),
      });
    } catch (err) {
      throw new CliError(
        `cannot subscribe at ${urls.wsUrl} (--ws-url / --network): ${(err as Error).message}`,
      );
    } finally {
      process.removeListener('SIGINT', onSig);
    }
    events = sample.events;
    gaps = sample.gaps;
    live = { start: sample.start, end: sample.end };
    // Keep the sample: it goes into the store like a recording.
    try {
      const store = await openStore(flags.data);
      try {
        const w = await store.write(events, gaps);
        const n = w.written.book + w.written.trade + w.written.bbo;
        process.stderr.write(`stored ${n} events in ${store.dir}\n`);
      } finally {
        await store.close();
      }
    } catch (err) {
      throw new CliError(`--data ${flags.data}: cannot store the sample (${(err as Error).message})`);
    }
    opts.windowMs = Number.POSITIVE_INFINITY;
  } else {
    try {
      const d = await readSource(flags.data, wanted?.length === 1 ? { coin: wanted[0] } : {});
      events = d.events;
      gaps = d.gaps;
    } catch (e) {
      if (e instanceof SourceError) throw new CliError(`--data: ${e.message}`);
      throw e;
    }
  }
  const present = [...new Set(events.map((e) => e.coin))].sort();
  const coins = wanted ?? present;
  if (coins.length === 0) throw new CliError(`--data ${flags.data}: no market events`);
  const absent = coins.filter((c) => !present.includes(c));
  if (absent.length > 0 && !flags.live)
    throw new CliError(
      `--coins: no events of ${absent.join(', ')} in ${flags.data} (it holds ${present.join(', ') || 'nothing'})`,
    );
  const results = rankScan(coins.map((c) => scanCoin(c, events, gaps, opts)));
  const report: ScanReport = { source: flags.data, options: opts, feeLabel, results, live };
  if (flags.report) writeFileSync(flags.report, scanHtml(report));
  if (flags.json) process.stdout.write(`${scanJson(report)}\n`);
  else {
    console.log(formatScan(report));
    if (flags.report) console.log(`report written to ${flags.report}`);
  }
}

export function register(program: Command): void {
  program
    .command('scan')
    .description(
      'rank coins by expected market-making edge from recorded data (--live: sample the feeds first)',
    )
    .requiredOption(
      '--data <store>',
      'a store (or any source `cjmm data` reads); with --live, where the sample is stored',
    )
    .option('--coins <list>', 'comma-separated coins (default: every coin in the data)')
    .option('--json', 'print {"coins": [...]} best first')
    .option('--report <file>', 'write a self-contained HTML report')
    .option('--window <len>', "calibration window ending at the data's end: 30m, 2h, … or 'all'", 'all')
    .option('--markout <h>', 'markout horizon whose ε feeds the model', '1s')
    .option('--fee-tier <spec>', "Hyperliquid fee tier (e.g. '0', '4,gold', '6,mm3'; default the base tier)")
    .option('--maker-fee <fraction>', 'maker fee as a fraction of notional (overrides --fee-tier)')
    .option('--notional <USD>', 'lot size in USD at the mid (rounded up to the size grid)', '15')
    .option(
      '--phi <x>',
      'running inventory penalty φ, USD/(lot²·s) (default: solved, as cj does, for the inventory target)',
    )
    .option('--inventory-std <lots>', "inventory target √E[q²] in lots that φ is solved for (default cj's 2)")
    .option('--q-max <lots>', 'inventory bound ±q̄ in lots', '10')
    .option('--drift <policy>', 'mid drift D = λ⁺ε⁺ − λ⁻ε⁻ in the model: model | shrink | zero', 'shrink')
    .option('--live', 'sample each --coins feed first (stored into --data), then scan the sample')
    .option('--sample <duration>', 'with --live: how long to sample', '3m')
    .option('--network <name>', 'with --live: mainnet | testnet | loopback', 'mainnet')
    .option('--http-url <url>', 'with --live: explicit HTTP API URL')
    .option('--ws-url <url>', 'with --live: explicit WebSocket URL')
    .action(async (flags: ScanFlags) => {
      await run(flags);
    });
}
