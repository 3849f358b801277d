/**
 * Turning user inputs into a backtest: the config file (strategy + backtest options, validated with errors
 * that name the field), the instrument (tick and size decimals inferred from the data when not given), the
 * latency spec, and the strategy. Shared by `cjmm backtest`, the benchmark and tests; no printing here.
 */
import { z } from 'zod';
import { inferTick } from '../calibration/tick.ts';
import type { ReferenceModel } from '../engine/attribution.ts';
import type { RiskConfig } from '../engine/risk.ts';
import type { InstrumentSpec, Strategy } from '../engine/types.ts';
import { FeeConfigSchema, type FeeSchedule, HYPERLIQUID_BASE_FEES } from '../exchange/fees.ts';
import { MIN_NOTIONAL_USD } from '../exchange/order-rules.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import {
  ConstantLatency,
  type LatencyModel,
  ProfileLatency,
  parseDurationMs,
  readLatencyProfile,
} from '../sim/latency.ts';
import { referenceModelFor } from '../strategies/calibrated.ts';
import {
  createStrategy,
  orderManagerSettings,
  parseStrategyConfig,
  type StrategyConfig,
  StrategyConfigError,
  type StrategyName,
} from '../strategies/index.ts';

/** Hyperliquid perps' size decimals for common coins (meta.universe); others are inferred from trade sizes. */
export const KNOWN_SZ_DECIMALS: Record<string, number> = { BTC: 5, ETH: 4, SOL: 2, HYPE: 2, DOGE: 0, XRP: 0 };

const positive = () =>
  z.number({ error: 'must be a number' }).finite('must be finite').positive('must be > 0');
const nonNeg = () => z.number({ error: 'must be a number' }).finite('must be finite').min(0, 'must be ≥ 0');

export const BacktestFileOptionsSchema = z.strictObject({
  /**
   * Hyperliquid's schedule { "tier": 0–6, "makerRebate": 1–3, "staking": "gold" } and/or explicit fractions of
   * notional { "maker": 0.00015, "taker": 0.00045 } (explicit wins); see src/exchange/fees.ts.
   */
  fees: FeeConfigSchema.optional(),
  /** Markout horizon of the P&L attribution's adverse-selection term, ms (default 1000). */
  markoutMs: nonNeg().optional(),
  /**
   * Constant hourly funding rate (fraction of notional; positive: longs pay shorts), charged on the position
   * at every hour boundary of exchange time where the data has no recorded rate (default: none).
   */
  fundingRate: z
    .number({ error: 'must be a number (hourly fraction, e.g. 0.0000125)' })
    .finite('must be finite')
    .gt(-0.01, 'must be > -0.01 (an hourly fraction)')
    .lt(0.01, 'must be < 0.01 (an hourly fraction)')
    .optional(),
  /** Size of one lot (the model's inventory unit) in coin units. */
  lotSize: positive().optional(),
  tick: positive().optional(),
  szDecimals: z.number().int('must be an integer').min(0).max(8).optional(),
  /** '50ms', 'profile:<file>', 'data', a number of ms, or { entry, cancel?, response? } in ms. */
  latency: z
    .union([
      z.string(),
      nonNeg(),
      z.strictObject({ entry: nonNeg(), cancel: nonNeg().optional(), response: nonNeg().optional() }),
    ])
    .optional(),
  queue: z.enum(['conservative', 'prob'], { error: "must be 'conservative' or 'prob'" }).optional(),
  queuePower: positive().optional(),
  /** Local − exchange clock offset in ms, 'min' (the smallest recorded rx − ex) or 'max' (instant feed). */
  clockOffsetMs: z.union([z.literal('min'), z.literal('max'), z.number().finite()]).optional(),
  risk: z.record(z.string(), z.unknown()).optional(),
  startingEquity: positive().optional(),
  timerIntervalMs: positive().optional(),
  /** Seed of sampled latencies and of client order ids. */
  seed: z.number().int().optional(),
  /**
   * The strategy's rolling calibrator on a thread of its own, ahead of the replay (same result; less wall
   * time, a little more CPU): 'auto' (default), 'on' or 'off'. See src/backtest/calibration-thread.ts.
   */
  calibrationThread: z.enum(['auto', 'on', 'off'], { error: "must be 'auto', 'on' or 'off'" }).optional(),
});
export type BacktestFileOptions = z.infer<typeof BacktestFileOptionsSchema>;

export interface BacktestConfigFile {
  strategy?: StrategyConfig;
  /** The raw strategy object (validated again against the strategy chosen on the command line). */
  strategyRaw?: Record<string, unknown>;
  backtest: BacktestFileOptions;
}

export class BacktestConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BacktestConfigError';
  }
}

/**
 * Parse a config file's JSON. Accepted shapes:
 *   { "strategy": "cj", "phi": 0.01, ..., "backtest": { ... } }     (a strategy config plus backtest options)
 *   { "strategy": { "strategy": "cj", ... }, "backtest": { ... } }  (nested)
 */
export function parseBacktestConfig(json: unknown, file = 'config'): BacktestConfigFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new BacktestConfigError(`${file}: must be a JSON object`);
  const { backtest, ...rest } = json as Record<string, unknown>;
  const bt = BacktestFileOptionsSchema.safeParse(backtest ?? {});
  if (!bt.success) {
    const issues = bt.error.issues.map((i) => {
      const path = ['backtest', ...i.path.map(String)].join('.');
      return i.code === 'unrecognized_keys'
        ? `${path}: unknown field(s) ${i.keys.join(', ')}`
        : `${path}: ${i.message}`;
    });
    throw new BacktestConfigError(`${file}: ${issues.join('; ')}`);
  }
  let strategyRaw: Record<string, unknown> | undefined;
  if (typeof rest.strategy === 'object' && rest.strategy !== null) {
    if (Object.keys(rest).length > 1)
      throw new BacktestConfigError(
        `${file}: with a nested "strategy" object, other top-level fields (${Object.keys(rest)
          .filter((k) => k !== 'strategy')
          .join(', ')}) belong inside it`,
      );
    strategyRaw = rest.strategy as Record<string, unknown>;
  } else if (Object.keys(rest).length > 0) {
    strategyRaw = rest;
  }
  let strategy: StrategyConfig | undefined;
  if (strategyRaw?.strategy !== undefined) {
    try {
      strategy = parseStrategyConfig(strategyRaw);
    } catch (e) {
      if (e instanceof StrategyConfigError) throw new BacktestConfigError(`${file}: ${e.message}`);
      throw e;
    }
  }
  return { strategy, strategyRaw, backtest: bt.data };
}

/** Decimals of a number as written (up to 8). */
function decimals(x: number): number {
  for (let d = 0; d <= 8; d++) if (Math.abs(Math.round(x * 10 ** d) - x * 10 ** d) < 1e-6) return d;
  return 8;
}

/** First mid of the data (NaN when none). */
export function firstMid(events: MarketEvent[]): number {
  for (const ev of events) {
    if (ev.kind === 'bbo' && ev.bidPx > 0 && ev.askPx > 0) return 0.5 * (ev.bidPx + ev.askPx);
    if (ev.kind === 'book' && ev.bids.length > 0 && ev.asks.length > 0)
      return 0.5 * (ev.bids[0].px + ev.asks[0].px);
  }
  return Number.NaN;
}

/**
 * The instrument for a coin: tick inferred from book/bbo price differences, size decimals from the
 * known table or the largest number of decimals seen in trade sizes, lot = the smallest size worth 1.5× the
 * minimum notional at the first mid (unless given), fees Hyperliquid base unless given.
 */
export function instrumentFromData(
  coin: string,
  events: MarketEvent[],
  given: { tick?: number; szDecimals?: number; lotSize?: number; fees?: FeeSchedule } = {},
): InstrumentSpec {
  const tick = given.tick ?? inferTick(events.filter((e) => e.coin === coin));
  if (!(tick > 0))
    throw new BacktestConfigError(`cannot infer the tick of ${coin} from the data; give backtest.tick`);
  let szDecimals = given.szDecimals ?? KNOWN_SZ_DECIMALS[coin];
  if (szDecimals === undefined) {
    szDecimals = 0;
    let seen = 0;
    for (const ev of events) {
      if (ev.kind !== 'trade' || ev.coin !== coin) continue;
      szDecimals = Math.max(szDecimals, decimals(ev.sz));
      if (++seen > 50_000) break;
    }
  }
  const step = 10 ** -szDecimals;
  let lotSize = given.lotSize;
  if (lotSize === undefined) {
    const mid = firstMid(events);
    if (!(mid > 0))
      throw new BacktestConfigError(`no book or bbo for ${coin} to size a lot from; give --lot`);
    lotSize = Number((Math.ceil((1.5 * MIN_NOTIONAL_USD) / mid / step - 1e-9) * step).toFixed(szDecimals));
  }
  const r = lotSize / step;
  if (Math.abs(r - Math.round(r)) > 1e-6)
    throw new BacktestConfigError(
      `lot size ${lotSize} must be a multiple of 10^-${szDecimals} (${coin} sizes)`,
    );
  const fees = given.fees ?? HYPERLIQUID_BASE_FEES;
  return {
    coin,
    tick,
    szDecimals,
    lotSize,
    minNotional: MIN_NOTIONAL_USD,
    makerFee: fees.maker,
    takerFee: fees.taker,
  };
}

/**
 * A latency spec: '50ms' / '0.05s' / '500us' / a number (ms) = constant each way; 'profile:<file>' =
 * sampled from a recorded profile; 'data' = sampled from the data's own feed delays (rx − ex above the clock
 * offset), used for entry, cancel and response alike.
 */
export function parseLatencySpec(
  spec: string | number | { entry: number; cancel?: number; response?: number },
  opts: { seed?: number; feedDelays?: () => Float64Array; clockOffsetMs?: number } = {},
): LatencyModel {
  if (typeof spec === 'number') return new ConstantLatency(spec);
  if (typeof spec === 'object')
    return new ConstantLatency(spec.entry, spec.cancel ?? spec.entry, spec.response ?? spec.entry);
  const s = spec.trim();
  if (s.startsWith('profile:')) {
    const file = s.slice('profile:'.length);
    try {
      return new ProfileLatency(readLatencyProfile(file), opts.seed ?? 1, `profile ${file}`);
    } catch (e) {
      throw new BacktestConfigError(`--latency profile:${file}: ${(e as Error).message}`);
    }
  }
  if (s === 'data') {
    if (!opts.feedDelays)
      throw new BacktestConfigError("latency 'data' needs market data with receive times");
    const base = opts.clockOffsetMs ?? 0;
    const xs = Array.from(opts.feedDelays(), (d) => Math.max(0, d - base));
    if (xs.length === 0)
      throw new BacktestConfigError("latency 'data': no events to sample feed delays from");
    return new ProfileLatency({ entry: xs }, opts.seed ?? 1, 'feed delays of the data');
  }
  const ms = parseDurationMs(s);
  if (ms === undefined)
    throw new BacktestConfigError(
      `latency (--latency / backtest.latency): cannot read '${spec}'; use a duration like 50ms, 0.05s or 500us, 'profile:<file>', or 'data'`,
    );
  return new ConstantLatency(ms);
}

/** Inventory bound in lots implied by a strategy config (cj: qMax; fixed/as/glft: maxPosition). */
export function strategyBoundLots(cfg: StrategyConfig): number {
  return cfg.strategy === 'cj' ? Math.max(cfg.qMax, cfg.qMin !== undefined ? -cfg.qMin : 0) : cfg.maxPosition;
}

/** Strategy plus the engine settings its config carries (order manager, risk bound). */
export function buildStrategy(
  name: StrategyName,
  raw: Record<string, unknown> | undefined,
  instrument: InstrumentSpec,
): {
  strategy: Strategy;
  config: StrategyConfig;
  orderManager: { priceToleranceTicks: number; minQuoteLifeMs: number };
  boundLots: number;
  risk: Partial<RiskConfig>;
  /** The attribution's reference: the strategy's own (undefined = the mid). */
  reference: ReferenceModel | undefined;
} {
  const rawCfg = { ...(raw ?? {}), strategy: raw?.strategy ?? name };
  if (rawCfg.strategy !== name)
    throw new BacktestConfigError(
      `--strategy ${name} but the config file is for '${String(rawCfg.strategy)}'; make them agree`,
    );
  let config: StrategyConfig;
  try {
    config = parseStrategyConfig(rawCfg);
  } catch (e) {
    if (e instanceof StrategyConfigError) throw new BacktestConfigError(e.message);
    throw e;
  }
  const strategy = createStrategy(name, config, instrument);
  const boundLots = strategyBoundLots(config);
  return {
    strategy,
    config,
    orderManager: orderManagerSettings(config),
    boundLots,
    risk: { maxPositionLots: boundLots },
    reference: referenceModelFor(config, instrument),
  };
}
