/**
 * One epoch: a backtest of one parameter set on one time window, with the running loss reported at the
 * pruning checkpoints. The same function runs in a local worker thread and in a `cjmm worker` of a fleet;
 * everything it needs travels in the job (plain data), so both give identical results.
 * The backtest is set up exactly as `cjmm backtest --config` sets it up (same instrument, fees, latency,
 * queue, risk, seed), so an exported parameter file reproduces an epoch's metrics.
 */
import type { BacktestMetrics } from '../backtest/metrics.ts';
import { type BacktestCheckpoint, runBacktest } from '../backtest/run.ts';
import { type BacktestFileOptions, buildStrategy, parseLatencySpec } from '../backtest/setup.ts';
import { type PreparedColumns, type Tape, tapeFromColumns } from '../backtest/tape.ts';
import type { InstrumentSpec } from '../engine/types.ts';
import type { StrategyName } from '../strategies/config.ts';
import type { TimeWindow } from './folds.ts';
import { type LossFunction, loadLoss, minutePnl } from './losses.ts';
import { CHECKPOINTS, type Thresholds } from './pruners.ts';
import type { TrialStatus } from './samplers/types.ts';
import { applyParams, type Params } from './space.ts';
import {
  materialise,
  resolveTapeMode,
  type SharedTapeData,
  sharedColumns,
  type TapeMode,
  type TapeModeOption,
} from './tape-source.ts';

/** What every epoch of a run shares. */
export interface EpochSetup {
  strategy: StrategyName;
  /** The strategy fields of --config (raw; the parameters are set on top). */
  baseStrategy?: Record<string, unknown>;
  /** The backtest section of --config. */
  backtest: BacktestFileOptions;
  /** The instrument of the run (tick, size decimals, fees, and the lot unless orderSize is tuned). */
  instrument: InstrumentSpec;
  /** The lot follows the strategy's orderSize (no backtest.lotSize / --lot given). */
  lotFollowsOrderSize: boolean;
  /** A built-in loss name or the absolute path of a loss module. */
  loss: string;
  minFills: number;
}

export interface EpochJob {
  /** Run id (logs, queue job ids). */
  run: string;
  n: number;
  fold: number;
  window: TimeWindow;
  params: Params;
  /** Pruning thresholds per checkpoint (null: no pruning; the running losses are still recorded). */
  prune: Thresholds | null;
  /** Record running losses at the checkpoints (false with --prune none: no checkpoint work at all). */
  checkpoints: boolean;
  /** An evaluation run (best parameters on a window): keep the P&L series for the report. */
  keepSeries?: boolean;
  setup: EpochSetup;
  source: SharedTapeData;
}

export interface EpochResult {
  n: number;
  fold: number;
  status: TrialStatus;
  /** Final loss (ok, infeasible); null when pruned or failed. */
  loss: number | null;
  /** The backtest's metrics (of the part replayed when pruned); null when the parameters were invalid. */
  metrics: BacktestMetrics | null;
  /** Running loss at each checkpoint reached (NaN where the loss threw). */
  checkpoints: number[];
  /** Pruned: the checkpoint index and fraction where it stopped. */
  prunedStep: number | null;
  prunedAt: number | null;
  error: string | null;
  /** Wall time of the epoch inside the worker, ms. */
  ms: number;
  /** CPU time of the worker thread for the epoch (user + system), ms. */
  cpuMs?: number;
  /** Where it ran (thread / host). */
  worker?: string;
  /** keepSeries: exchange time (ms) and P&L (USD) samples. */
  series?: { t: number; pnl: number }[];
}

/**
 * Per-thread cache: the shared columns viewed once per source (no copy; with the event objects made once
 * when the tape mode says so), a tape per window (a view with that window's counts and clock offset), loss
 * functions.
 */
export class EpochContext {
  /** How this thread replays shared data (tape-source.ts), and how many threads of the process share it. */
  readonly tapeMode: TapeModeOption;
  readonly threads: number;
  /** The mode used per source key (tests, logs). */
  readonly modes = new Map<string, TapeMode>();
  private readonly columns = new Map<string, PreparedColumns>();
  private readonly tapes = new Map<string, Tape>();
  private readonly delays = new Map<Tape, Float64Array>();
  private readonly losses = new Map<string, Promise<LossFunction>>();
  /** How many times shared data was wrapped into a view (tests check: once per source). */
  views = 0;

  constructor(tapeMode: TapeModeOption = 'columns', threads = 1) {
    this.tapeMode = tapeMode;
    this.threads = threads;
  }

  private viewOf(source: SharedTapeData): PreparedColumns {
    let c = this.columns.get(source.key);
    if (!c) {
      c = sharedColumns(source);
      const mode = resolveTapeMode(this.tapeMode, source, this.threads);
      if (mode === 'objects') materialise(c.cols);
      this.modes.set(source.key, mode);
      this.views++;
      this.columns.set(source.key, c);
    }
    return c;
  }

  tape(
    source: SharedTapeData,
    window: TimeWindow,
    clockOffsetMs: BacktestFileOptions['clockOffsetMs'],
  ): Tape {
    const key = `${source.key}\u0000${window.from}\u0000${window.to}\u0000${clockOffsetMs ?? 'min'}`;
    let t = this.tapes.get(key);
    if (!t) {
      t = tapeFromColumns(this.viewOf(source), source.gaps, {
        coin: source.coin,
        from: window.from,
        to: window.to,
        clockOffsetMs,
      });
      this.tapes.set(key, t);
    }
    return t;
  }

  feedDelays(t: Tape): Float64Array {
    let d = this.delays.get(t);
    if (!d) {
      d = t.feedDelays();
      this.delays.set(t, d);
    }
    return d;
  }

  loss(spec: string): Promise<LossFunction> {
    let l = this.losses.get(spec);
    if (!l) {
      l = loadLoss(spec);
      this.losses.set(spec, l);
    }
    return l;
  }
}

/** Series spacing: a divisor of a minute (so per-minute P&L can be read off), ~300+ points for reports. */
export function seriesSampleMs(spanMs: number, keepSeries: boolean): number {
  if (!keepSeries) return 60_000;
  for (const d of [60_000, 30_000, 20_000, 15_000, 12_000, 10_000, 6000, 5000, 4000, 3000, 2000])
    if (spanMs / d >= 300) return d;
  return 1000;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function runEpoch(ctx: EpochContext, job: EpochJob): Promise<EpochResult> {
  const c0 = process.threadCpuUsage();
  const r = await runEpochTimed(ctx, job);
  const c = process.threadCpuUsage(c0);
  r.cpuMs = (c.user + c.system) / 1000;
  return r;
}

async function runEpochTimed(ctx: EpochContext, job: EpochJob): Promise<EpochResult> {
  const t0 = performance.now();
  const s = job.setup;
  const bt = s.backtest;
  const lossFn = await ctx.loss(s.loss);
  const cfg = applyParams(s.strategy, s.baseStrategy, job.params);
  const lot =
    s.lotFollowsOrderSize && typeof cfg.orderSize === 'number' ? cfg.orderSize : s.instrument.lotSize;
  const instrument: InstrumentSpec = { ...s.instrument, lotSize: lot };
  const checkpoints: number[] = [];
  const failed = (error: string, metrics?: BacktestMetrics): EpochResult => ({
    n: job.n,
    fold: job.fold,
    status: 'failed',
    loss: null,
    metrics: metrics ?? null,
    checkpoints,
    prunedStep: null,
    prunedAt: null,
    error,
    ms: performance.now() - t0,
  });
  let built: ReturnType<typeof buildStrategy>;
  try {
    built = buildStrategy(s.strategy, cfg, instrument);
  } catch (e) {
    return failed(`invalid parameters: ${message(e)}`);
  }
  const tape = ctx.tape(job.source, job.window, bt.clockOffsetMs);
  const latency = parseLatencySpec(bt.latency ?? '50ms', {
    seed: bt.seed,
    feedDelays: () => ctx.feedDelays(tape),
    clockOffsetMs: tape.clockOffsetMs,
  });
  const sampleMs = seriesSampleMs(tape.end - tape.start, job.keepSeries === true);
  const thresholds = job.prune;
  let prunedStep: number | null = null;
  const onCheckpoint = (c: BacktestCheckpoint): boolean => {
    let l: number;
    try {
      l = lossFn(c.metrics, {
        minutePnl: minutePnl(c.series, sampleMs, false),
        params: job.params,
        fraction: c.fraction,
      });
      if (typeof l !== 'number' || Number.isNaN(l)) l = Number.NaN;
    } catch {
      l = Number.NaN; // reported once, at the end, if it throws there too
    }
    checkpoints.push(l);
    const thr = thresholds?.[c.index];
    if (thr !== null && thr !== undefined && l > thr) {
      prunedStep = c.index;
      return false;
    }
    return true;
  };
  const result = runBacktest({
    tape,
    instrument,
    strategy: built.strategy,
    queue: bt.queue,
    queuePower: bt.queuePower,
    latency,
    fees: { maker: instrument.makerFee, taker: instrument.takerFee },
    risk: { ...built.risk, ...(bt.risk as Partial<Record<string, number>> | undefined) },
    orderManager: built.orderManager,
    boundLots: built.boundLots,
    timerIntervalMs: bt.timerIntervalMs,
    startingEquity: bt.startingEquity,
    seed: bt.seed,
    sampleMs,
    paramsSampleMs: Number.POSITIVE_INFINITY,
    markoutMs: bt.markoutMs,
    funding: job.source.funding,
    fundingRate: bt.fundingRate,
    checkpoints: job.checkpoints ? { fractions: CHECKPOINTS, onCheckpoint } : undefined,
    // Epochs already fill the cores (one per worker): no calibration thread, whatever backtest.calibrationThread says.
    calibrationThread: 'off',
  });
  const series = job.keepSeries ? result.series.map((p) => ({ t: p.t, pnl: p.pnl })) : undefined;
  if (result.stoppedAt !== undefined) {
    return {
      n: job.n,
      fold: job.fold,
      status: 'pruned',
      loss: null,
      metrics: result.metrics,
      checkpoints,
      prunedStep,
      prunedAt: result.stoppedAt,
      error: null,
      ms: performance.now() - t0,
      series,
    };
  }
  let loss: number;
  try {
    loss = lossFn(result.metrics, {
      minutePnl: minutePnl(result.series, sampleMs, true),
      params: job.params,
      fraction: 1,
    });
  } catch (e) {
    return { ...failed(`the loss threw: ${message(e)}`, result.metrics), series };
  }
  if (typeof loss !== 'number' || !Number.isFinite(loss))
    return {
      ...failed(`the loss returned ${String(loss)} (must be a finite number)`, result.metrics),
      series,
    };
  return {
    n: job.n,
    fold: job.fold,
    status: result.metrics.fills < s.minFills ? 'infeasible' : 'ok',
    loss,
    metrics: result.metrics,
    checkpoints,
    prunedStep: null,
    prunedAt: null,
    error: null,
    ms: performance.now() - t0,
    series,
  };
}
