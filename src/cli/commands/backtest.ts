/**
 * `cjmm backtest`: replay recorded market data through the engine and the simulated exchange.
 * Parsing, progress and printing only; src/backtest does the work.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CALIBRATION_THREAD_MODES, type CalibrationThreadMode } from '../../backtest/calibration-thread.ts';
import { renderReport } from '../../backtest/report.ts';
import { type BacktestResult, type FundingRate, runBacktest } from '../../backtest/run.ts';
import {
  BacktestConfigError,
  type BacktestConfigFile,
  buildStrategy,
  instrumentFromData,
  parseLatencySpec,
} from '../../backtest/setup.ts';
import { instrumentFromStore, runBacktestStream, StoreTape } from '../../backtest/stream.ts';
import { buildTape, type Tape, type TapeHeader } from '../../backtest/tape.ts';
import type { InstrumentSpec } from '../../engine/types.ts';
import {
  checkFees,
  describeFeeTier,
  type FeeSchedule,
  type FeeTier,
  feesForTier,
  feeTierOf,
  parseFeeTier,
  resolveFeeConfig,
} from '../../exchange/fees.ts';
import { detectLayout, readSource, SourceError } from '../../marketdata/source.ts';
import { type MarketStore, openStore, queryFunding } from '../../marketdata/store/index.ts';
import { parseDurationMs } from '../../sim/latency.ts';
import { STRATEGY_NAMES, type StrategyName } from '../../strategies/index.ts';
import { readConfigFile } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { timeOption } from '../options.ts';

interface BacktestFlags {
  data: string;
  coin?: string;
  strategy: string;
  config?: string;
  from?: string;
  to?: string;
  queue?: string;
  queuePower?: string;
  latency?: string;
  lot?: string;
  makerFee?: string;
  takerFee?: string;
  feeTier?: string;
  markout?: string;
  fundingRate?: string;
  clockOffset?: string;
  json?: boolean;
  report?: string;
  progress?: boolean;
  chunk?: string;
  calibrationThread?: string;
}

function num(flag: string, raw: string, check: (v: number) => boolean, range: string): number {
  const v = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v) || !check(v)) throw new CliError(`${flag} must be ${range} (got ${raw})`);
  return v;
}

function progressBar(enabled: boolean): ((f: number) => void) | undefined {
  if (!enabled) return undefined;
  let last = -1;
  return (f) => {
    const pct = Math.floor(f * 100);
    if (pct === last) return;
    last = pct;
    const w = 30;
    const done = Math.round((pct / 100) * w);
    process.stderr.write(
      `\rbacktest [${'#'.repeat(done)}${' '.repeat(w - done)}] ${String(pct).padStart(3)}%`,
    );
    if (pct >= 100) process.stderr.write('\n');
  };
}

const f = (x: number, d = 4) => (Number.isFinite(x) ? Number(x.toFixed(d)).toString() : '–');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const signed = (x: number, d = 4) => (x < 0 ? `− ${f(-x, d)}` : `+ ${f(x, d)}`);

/** The attribution, break-even fee and spread-bound lines of the summary. */
export function costLines(r: BacktestResult): string[] {
  const m = r.metrics;
  const a = m.pnlAttribution;
  const h = r.settings.attribution;
  const out = [
    `  P&L attribution    spread ${f(a.spreadCapture)} ${signed(a.adverseSelection)} adverse ${signed(a.inventoryCarry)} carry ${signed(a.fees)} fees ${signed(a.funding)} funding = ${f(m.netPnl)} USD (reference ${h.reference}, markout ${f(h.markoutMs / 1000, 3)} s)`,
    m.breakEvenMakerFee === null
      ? '  break-even maker   – (no maker fills)'
      : `  break-even maker   ${f(m.breakEvenMakerFee, 7)} (${f(m.breakEvenMakerFee * 1e4, 3)} bps; this run ${f(r.settings.fees.maker * 1e4, 3)} bps)${m.breakEvenMakerFee < 0 ? ': only a rebate that large breaks even' : ''}`,
  ];
  const b = m.spreadBoundBinding;
  if (b)
    out.push(
      `  spread bounds      binding (share of quoted time): min bid ${pct(b.min.bid)} ask ${pct(b.min.ask)}, max bid ${pct(b.max.bid)} ask ${pct(b.max.ask)}`,
    );
  return out;
}

export function formatSummary(r: BacktestResult): string {
  const m = r.metrics;
  const lines = [
    `backtest ${r.coin} ${r.strategy}: ${new Date(r.start).toISOString()} → ${new Date(r.end).toISOString()} (${f(m.durationSec, 0)} s, ${r.events.total} events, ${r.settings.gaps} gaps)`,
    `  queue ${r.settings.queue}, latency ${r.settings.latency}, clock offset ${f(r.settings.clockOffsetMs, 1)} ms, fees maker ${r.settings.fees.maker} / taker ${r.settings.fees.taker}${r.settings.feeTier ? ` (${r.settings.feeTier.description})` : ''}, lot ${r.settings.instrument.lotSize} ${r.coin}`,
    `  net P&L            ${f(m.netPnl)} USD  (spread capture ${f(m.grossSpreadCapture)} − fees ${f(m.fees)} + inventory ${f(m.inventoryPnl)}${m.pnlAttribution.funding !== 0 ? ` + funding ${f(m.pnlAttribution.funding)}` : ''})`,
    ...costLines(r),
    `  fills              ${m.fills} (maker ${m.makerFills}, taker ${m.takerFills}), volume ${f(m.volume)} ${r.coin} / ${f(m.notional, 2)} USD`,
    `  fill rate          ${f(m.fillRatePerQuote)} fills per quote (${m.quotesPlaced} quotes placed, ${r.venue.rejects} rejected)`,
    `  requests           ${f(m.requestsPerHour, 0)} per hour, ${m.requestsPerUsdTraded === null ? '– (nothing traded)' : f(m.requestsPerUsdTraded, 3)} per USDC traded (Hyperliquid earns 1 per USDC: sustainable below 1)`,
    `  inventory (lots)   mean ${f(m.inventory.mean, 3)}, std ${f(m.inventory.std, 3)}, max |q| ${f(m.inventory.max, 3)}, final ${f(m.inventory.final, 3)}`,
    `  time at bounds     ${m.timeAtBounds ? `${pct(m.timeAtBounds.total)} (long ${pct(m.timeAtBounds.long)}, short ${pct(m.timeAtBounds.short)}; ±${m.timeAtBounds.boundLots} lots)` : 'no bound'}`,
    `  Sharpe             ${f(m.sharpe, 2)} (${m.sharpeSampling})`,
    `  max drawdown       ${f(m.maxDrawdown)} USD`,
    ...m.markouts.map(
      (k) =>
        `  markout ${k.horizon.padEnd(4)}       ${f(k.meanMidMove, 5)} USD (${f(k.meanMidMoveBps, 3)} bps) mid move after our fills, n=${k.n}; P&L/unit ${f(k.meanPnlPerUnit, 5)}`,
    ),
    `  quote uptime       both ${pct(m.quoteUptime.both)}, bid ${pct(m.quoteUptime.bid)}, ask ${pct(m.quoteUptime.ask)}`,
    `  risk state         ${r.engine.riskState}${r.engine.riskReason ? ` (${r.engine.riskReason})` : ''}`,
  ];
  const model = modelLine(r.diagnostics);
  if (model) lines.push(model);
  return lines.join('\n');
}

/** cj at the end of the run: φ (and where it came from), the drift D, its skew at q = 0, the depth model. */
function modelLine(d: Record<string, unknown> | undefined): string | undefined {
  if (!d || typeof d.phi !== 'number') return undefined;
  const g = (x: unknown) =>
    typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : '—';
  const from = d.phiSource === 'target' ? 'from the inventory target' : 'given';
  // signal: imbalance: the regime tables' φ (on the joint inventory–regime law) and that law's RMS.
  const regimes =
    typeof d.regimePhi === 'number'
      ? `; regimes φ ${g(d.regimePhi)} (${d.regimePhiStatus}, joint-law RMS ${g(d.regimeInventoryRms)} lots)`
      : '';
  return `  model (last)       φ ${g(d.phi)} (${from}), D ${g(d.driftModel)} ± ${g(d.driftStderr)} → ${d.driftPolicy} ${g(d.driftUsed)}, skew at q=0 ${g(d.driftSkew)}${d.driftDominates ? ' (D DOMINATES)' : ''}, depth ${d.depthModelPlus}/${d.depthModelMinus}${regimes}`;
}

/** Funding rates recorded in a store (`cjmm data download` writes them) around [start, end]; [] for other sources. */
async function recordedFunding(
  data: string,
  coin: string,
  start: number,
  end: number,
  open?: MarketStore,
): Promise<FundingRate[]> {
  if (!open && (await detectLayout(data).catch(() => undefined)) !== 'store') return [];
  const store = open ?? (await openStore(data));
  try {
    const rows = await queryFunding(store, coin, start - 3_600_000, end + 1);
    return rows.map((r) => ({
      time: r.time,
      rate: r.fundingRate,
      price: r.oraclePx !== undefined && r.oraclePx > 0 ? r.oraclePx : undefined,
    }));
  } finally {
    if (!open) await store.close();
  }
}

/** The machine-readable result (`--json`): everything but the chart series. */
export function resultJson(r: BacktestResult): string {
  const { series, fills, params, ...rest } = r;
  void series;
  void fills;
  void params;
  return JSON.stringify(rest, null, 2);
}

/** What a backtest needs from its data, whichever way it is read. */
interface Prepared {
  instrument: InstrumentSpec;
  header: TapeHeader;
  /** A store, streamed. */
  stream?: StoreTape;
  /** Anything else, in memory. */
  tape?: Tape;
  feedDelays: () => Promise<Float64Array>;
  malformed: number;
}

interface PrepareArgs {
  from?: number;
  to?: number;
  clockOffsetMs?: number | 'min' | 'max';
  given: { tick?: number; szDecimals?: number; lotSize?: number; fees: FeeSchedule };
}

function noCoin(flags: BacktestFlags, coins: string[], from?: number, to?: number): never {
  throw new CliError(
    coins.length === 0
      ? `--data ${flags.data}: no market events${from !== undefined || to !== undefined ? ' in --from/--to' : ''}`
      : `--coin is required: the data holds ${coins.join(', ')}`,
  );
}

/** A store: one scan of the range for what the replay must know first; the events stream later. */
async function prepareStore(
  store: MarketStore,
  flags: BacktestFlags,
  a: PrepareArgs & { chunkMs?: number },
): Promise<Prepared> {
  let coin = flags.coin;
  if (coin === undefined) {
    const coins: string[] = [];
    for (const c of await store.coins()) {
      const t = await StoreTape.open(store, { coin: c, from: a.from, to: a.to, chunkMs: Infinity });
      if (t.header.length + t.header.counts.skipped > 0) coins.push(c);
    }
    if (coins.length !== 1) noCoin(flags, coins, a.from, a.to);
    coin = coins[0];
  }
  const stream = await StoreTape.open(store, {
    coin,
    from: a.from,
    to: a.to,
    clockOffsetMs: a.clockOffsetMs,
    chunkMs: a.chunkMs,
  });
  const h = stream.header;
  if (h.length + h.counts.skipped === 0)
    throw new CliError(`--coin ${coin}: no events of that coin in ${flags.data}`);
  if (h.length === 0) throw new CliError(`--data ${flags.data}: no valid ${coin} events to replay`);
  const instrument = await instrumentFromStore(stream, a.given);
  return { instrument, header: h, stream, feedDelays: () => stream.feedDelays(), malformed: 0 };
}

/** Any other layout: read whole into memory (seed Parquet/CSV, archive, ws capture, Tardis). */
async function prepareInMemory(flags: BacktestFlags, a: PrepareArgs, shared: boolean): Promise<Prepared> {
  const data = await readSource(flags.data, { coin: flags.coin, from: a.from, to: a.to });
  const coins = [...new Set(data.events.map((e) => e.coin))];
  const coin = flags.coin ?? (coins.length === 1 ? coins[0] : undefined);
  if (coin === undefined) noCoin(flags, coins, a.from, a.to);
  if (!coins.includes(coin)) throw new CliError(`--coin ${coin}: no events of that coin in ${flags.data}`);
  const instrument = instrumentFromData(coin, data.events, a.given);
  const tape = buildTape(data.events, data.gaps, {
    coin,
    from: a.from,
    to: a.to,
    clockOffsetMs: a.clockOffsetMs,
    shared,
  });
  if (tape.length === 0) throw new CliError(`--data ${flags.data}: no valid ${coin} events to replay`);
  return {
    instrument,
    header: tape,
    tape,
    feedDelays: async () => tape.feedDelays(),
    malformed: data.report.malformed,
  };
}

/** `--chunk`: exchange time per chunk when streaming a store (default one hour). */
function chunkMsFlag(flags: BacktestFlags): number | undefined {
  if (flags.chunk === undefined) return undefined;
  const h = /^\s*(\d+(?:\.\d*)?)\s*h\s*$/.exec(flags.chunk);
  const ms = h ? Number(h[1]) * 3_600_000 : parseDurationMs(flags.chunk);
  if (ms === undefined || !(ms >= 1))
    throw new CliError(`--chunk must be a duration such as 1h, 10m or 30s (got ${flags.chunk})`);
  return ms;
}

async function run(flags: BacktestFlags): Promise<void> {
  if (!STRATEGY_NAMES.includes(flags.strategy as StrategyName))
    throw new CliError(`--strategy must be one of ${STRATEGY_NAMES.join('|')} (got ${flags.strategy})`);
  const name = flags.strategy as StrategyName;
  const queue = flags.queue ?? undefined;
  if (queue !== undefined && queue !== 'conservative' && queue !== 'prob')
    throw new CliError(`--queue must be conservative or prob (got ${queue})`);
  const from = timeOption('--from', flags.from);
  const to = timeOption('--to', flags.to);
  if (from !== undefined && to !== undefined && !(from < to))
    throw new CliError('--from must be before --to');

  let cfg: BacktestConfigFile = { backtest: {} };
  try {
    if (flags.config) cfg = readConfigFile(flags.config);
  } catch (e) {
    if (e instanceof BacktestConfigError) throw new CliError(e.message);
    throw e;
  }
  const bt = cfg.backtest;

  let feeTier: FeeTier | undefined = feeTierOf(bt.fees);
  let fromTier = resolveFeeConfig(bt.fees);
  if (flags.feeTier !== undefined) {
    try {
      feeTier = parseFeeTier(flags.feeTier);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    fromTier = feesForTier(feeTier);
  }
  const fees = {
    maker:
      flags.makerFee !== undefined
        ? num(
            '--maker-fee',
            flags.makerFee,
            (v) => v > -0.01 && v < 0.01,
            'a fraction in (−0.01, 0.01), e.g. 0.00015',
          )
        : fromTier.maker,
    taker:
      flags.takerFee !== undefined
        ? num(
            '--taker-fee',
            flags.takerFee,
            (v) => v >= 0 && v < 0.01,
            'a fraction in [0, 0.01), e.g. 0.00045',
          )
        : fromTier.taker,
  };
  // The tier is reported only when it set a fee that was not overridden.
  if (flags.makerFee !== undefined && flags.takerFee !== undefined) feeTier = undefined;
  const markoutMs =
    flags.markout !== undefined
      ? (() => {
          const ms = parseDurationMs(flags.markout);
          if (ms === undefined || !(ms >= 0))
            throw new CliError(`--markout must be a duration such as 1s, 500ms or 5s (got ${flags.markout})`);
          return ms;
        })()
      : bt.markoutMs;
  const fundingRate =
    flags.fundingRate !== undefined
      ? num(
          '--funding-rate',
          flags.fundingRate,
          (v) => v > -0.01 && v < 0.01,
          'an hourly fraction in (−0.01, 0.01), e.g. 0.0000125',
        )
      : bt.fundingRate;
  const feeErr = checkFees(fees);
  if (feeErr) throw new CliError(`backtest.${feeErr}`);
  const orderSize = typeof cfg.strategyRaw?.orderSize === 'number' ? cfg.strategyRaw.orderSize : undefined;
  const lotSize =
    flags.lot !== undefined
      ? num('--lot', flags.lot, (v) => v > 0, 'a positive size in coin units')
      : (bt.lotSize ?? orderSize);

  const clockOffsetMs =
    flags.clockOffset !== undefined
      ? flags.clockOffset === 'min' || flags.clockOffset === 'max'
        ? flags.clockOffset
        : num('--clock-offset', flags.clockOffset, () => true, "a number of ms, 'min' or 'max'")
      : bt.clockOffsetMs;
  const queuePower =
    flags.queuePower !== undefined
      ? num('--queue-power', flags.queuePower, (v) => v > 0, 'a positive number')
      : bt.queuePower;
  const given = { tick: bt.tick, szDecimals: bt.szDecimals, lotSize, fees };
  const calibrationThread = flags.calibrationThread ?? bt.calibrationThread;
  if (calibrationThread !== undefined && !CALIBRATION_THREAD_MODES.includes(calibrationThread as never))
    throw new CliError(`--calibration-thread must be auto, on or off (got ${calibrationThread})`);
  // Read whole: columns on shared memory when a calibration thread may read them (no copy then).
  const shared = calibrationThread !== 'off' && name !== 'fixed';

  let layout: Awaited<ReturnType<typeof detectLayout>>;
  try {
    layout = await detectLayout(flags.data);
  } catch (e) {
    if (e instanceof SourceError) throw new CliError(`--data: ${e.message}`);
    throw e;
  }
  let store: MarketStore | undefined;
  try {
    // A store is streamed chunk by chunk (memory independent of the range); other layouts are read whole.
    let prepared: Prepared;
    if (layout === 'store') {
      store = await openStore(flags.data);
      prepared = await prepareStore(store, flags, {
        from,
        to,
        clockOffsetMs,
        given,
        chunkMs: chunkMsFlag(flags),
      });
    } else prepared = await prepareInMemory(flags, { from, to, clockOffsetMs, given }, shared);
    const { instrument, header } = prepared;
    const spec = flags.latency ?? bt.latency ?? '50ms';
    // Sampling the data's own feed delays needs all of them (8 bytes per event; a store: one more pass).
    const delays =
      typeof spec === 'string' && spec.trim() === 'data' ? await prepared.feedDelays() : undefined;
    const latency = parseLatencySpec(spec, {
      seed: bt.seed,
      feedDelays: delays ? () => delays : undefined,
      clockOffsetMs: header.clockOffsetMs,
    });
    const funding = await recordedFunding(flags.data, header.coin, header.start, header.end, store);
    const built = buildStrategy(name, cfg.strategyRaw, instrument);
    const showProgress = flags.progress === true || (process.stderr.isTTY === true && !flags.json);
    const common = {
      instrument,
      strategy: built.strategy,
      queue: (queue as 'conservative' | 'prob' | undefined) ?? bt.queue,
      queuePower,
      latency,
      fees,
      risk: { ...built.risk, ...(bt.risk as Partial<Record<string, number>> | undefined) },
      orderManager: built.orderManager,
      boundLots: built.boundLots,
      timerIntervalMs: bt.timerIntervalMs,
      startingEquity: bt.startingEquity,
      seed: bt.seed,
      progress: progressBar(showProgress),
      markoutMs,
      funding,
      fundingRate,
      feeTier: feeTier ? { ...feeTier, description: describeFeeTier(feeTier) } : undefined,
      reference: built.reference,
      calibrationThread: calibrationThread as CalibrationThreadMode | undefined,
    };
    const result = prepared.stream
      ? await runBacktestStream({ ...common, stream: prepared.stream })
      : runBacktest({ ...common, tape: prepared.tape });
    if (flags.report) writeFileSync(flags.report, renderReport(result));
    if (flags.json) process.stdout.write(`${resultJson(result)}\n`);
    else {
      console.log(formatSummary(result));
      if (prepared.malformed > 0) console.log(`  (${prepared.malformed} malformed records skipped on read)`);
      if (flags.report) console.log(`  report written to ${flags.report}`);
    }
  } catch (e) {
    if (e instanceof BacktestConfigError) throw new CliError(e.message);
    if (e instanceof SourceError) throw new CliError(`--data: ${e.message}`);
    if (e instanceof Error && /^(risk|orderManager|latency|engine|instrument|fees)[.:]/.test(e.message))
      throw new CliError(e.message);
    throw e;
  } finally {
    await store?.close();
  }
}

export function register(program: Command): void {
  program
    .command('backtest')
    .description('Tick-level backtest of a strategy on recorded market data (queue position, latency, fees)')
    .requiredOption('--data <path>', 'market data: a store or any raw layout `cjmm data` reads')
    .option('--coin <coin>', 'coin to trade (default: the only coin in the data)')
    .requiredOption('--strategy <name>', 'cj | fixed | as | glft')
    .option(
      '--config <file>',
      'JSON: strategy settings and a "backtest" section (fees, lotSize, latency, queue, risk…)',
    )
    .option('--from <time>', 'start, ISO-8601 or epoch ms (exchange time)')
    .option('--to <time>', 'end (exclusive), ISO-8601 or epoch ms')
    .option('--queue <model>', 'queue position model: conservative | prob (default conservative)')
    .option('--queue-power <n>', 'power n of the prob queue model (default 2)')
    .option(
      '--latency <spec>',
      "order entry/cancel/response latency: 50ms, 0.05s, 500us, 'profile:<file>' or 'data' (default 50ms)",
    )
    .option(
      '--lot <size>',
      'lot (order) size in coin units (default: config, else 1.5× the $10 minimum at the first mid)',
    )
    .option('--maker-fee <fraction>', 'maker fee as a fraction of notional (default 0.00015)')
    .option('--taker-fee <fraction>', 'taker fee as a fraction of notional (default 0.00045)')
    .option(
      '--fee-tier <spec>',
      "Hyperliquid fee tier: volume tier 0-6, maker rebate mm1-mm3, staking wood..diamond, comma-separated (e.g. '2', '4,gold', '6,mm3'); --maker-fee/--taker-fee override it",
    )
    .option('--markout <h>', "markout horizon of the P&L attribution's adverse-selection term (default 1s)")
    .option(
      '--funding-rate <fraction>',
      'constant hourly funding rate charged on the position at each hour boundary (default none)',
    )
    .option(
      '--clock-offset <ms|min|max>',
      "local − exchange clock offset: ms, 'min' (default: recorded feed delays kept) or 'max' (instant feed)",
    )
    .option('--json', 'print the result as JSON')
    .option('--report <file>', 'write a self-contained HTML report with charts')
    .option('--progress', 'show a progress bar on stderr even when it is not a terminal')
    .option(
      '--chunk <duration>',
      'a store is replayed chunk by chunk (memory independent of the range): exchange time per chunk (default 1h)',
    )
    .option(
      '--calibration-thread <mode>',
      'the calibrator of cj/as/glft on a second core, ahead of the replay (same result): auto (default: long tapes, ≥ 2 cores) | on | off',
    )
    .action(async (opts: BacktestFlags) => {
      await run(opts);
    });
}
