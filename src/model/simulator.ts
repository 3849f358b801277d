/**
 * A seedable, exact, event-driven simulator of the model's own world: Poisson market orders per side
 * (rates λ±), each filling our order at depth δ with probability e^{−κδ} (1 if δ ≤ 0: a crossing quote),
 * a permanent mid jump ε± on every MO (filled or not), and a Brownian mid (σ) between events.
 * It runs ANY quoting policy and is the independent truth for the model's tests and for calibration tests.
 *
 * Cash is in price units per lot; the fee c is charged as cash on every fill. The random numbers are drawn
 * in a fixed order per event (arrival time, side, fill uniform, Brownian increment) whatever the policy
 * does, so two policies run with the same seed see the same market (common random numbers).
 */
import { Rng } from '../util/rng.ts';
import { arrivalRate, type FillCurve, fillRate } from './fill-rate.ts';
import { hasFillCurves } from './params.ts';
import { quoteTableFromH, valueGrid } from './solve.ts';
import type { ModelParams, QuoteMode, QuoteTable } from './types.ts';

/** Our quotes at one instant: depths from the mid (price units); NaN or Infinity = side not quoted. */
export interface Quotes {
  deltaPlus: number;
  deltaMinus: number;
}

/** A quoting policy: time since start (s) and inventory (lots) → quotes. */
export type QuotePolicy = (t: number, q: number) => Quotes;

export interface WorldParams {
  lambdaPlus: number;
  lambdaMinus: number;
  kappaPlus: number;
  kappaMinus: number;
  epsilonPlus: number;
  epsilonMinus: number;
  /** Mid diffusion (price/√s). */
  sigma: number;
  /** Fee per fill (price units). */
  feePerFill: number;
  /**
   * Fill-rate model per side (fill-rate.ts). With a curve, MOs of that side arrive at its arrival rate
   * (Λ at the touch for `levels`) and fill a quote at depth δ with probability Λ(δ)/arrival; λ± and κ± are
   * then not used for that side.
   */
  fillPlus?: FillCurve;
  fillMinus?: FillCurve;
  /** Extra deterministic mid drift (price/s), e.g. so the world's total drift matches a `drift` override. */
  midDrift?: number;
}

export interface SimulationConfig {
  world: WorldParams;
  /** Horizon T (s). */
  horizon: number;
  /** Initial mid, inventory and cash. */
  s0?: number;
  q0?: number;
  /** Inventory bounds enforced on fills (a quote that would breach a bound never fills). */
  qMin: number;
  qMax: number;
  /** Penalties of the objective X_T + Q_T(S_T − αQ_T) − φ∫Q². */
  phi: number;
  alpha: number;
  /** 'exponential' (depth quotes, P(fill) = e^{−κδ}) or 'touch' (a posted order fills on every MO). */
  fillModel?: 'exponential' | 'touch';
}

export interface PathResult {
  cash: number;
  inventory: number;
  mid: number;
  /** ∫₀ᵀ Q_u² du (lots²·s). */
  inventorySquaredIntegral: number;
  fillsPlus: number;
  fillsMinus: number;
  marketOrders: number;
  /** Penalised objective X_T + Q_T(S_T − αQ_T) − φ∫Q² (the quantity h(0, q0) + q0 S0 predicts). */
  objective: number;
  /** Raw mark-to-mid P&L: X_T + Q_T S_T − (X_0 + Q_0 S_0). */
  pnl: number;
  /** Time (s) spent at each inventory level qMin..qMax (index q − qMin). */
  timeAtInventory: Float64Array;
}

/** Market-order arrival: the waiting time and which side (+1 buy MO lifting asks, −1 sell MO hitting bids). */
export interface MarketOrderDraw {
  dt: number;
  side: 1 | -1;
}

/** Draws the next MO of the superposed Poisson processes (exact: exponential gap, side by rate share). */
export function drawMarketOrder(rng: Rng, lambdaPlus: number, lambdaMinus: number): MarketOrderDraw {
  const total = lambdaPlus + lambdaMinus;
  const dt = total > 0 ? rng.exponential(total) : Number.POSITIVE_INFINITY;
  const side = rng.uniform() * total < lambdaPlus ? 1 : -1;
  return { dt, side };
}

/** P(a limit order at depth δ fills | an MO of its side arrives) = e^{−κδ}, capped at 1 for δ ≤ 0. */
export function fillProbability(kappa: number, delta: number): number {
  if (!(delta < Number.POSITIVE_INFINITY)) return 0;
  return delta <= 0 ? 1 : Math.exp(-kappa * delta);
}

/** Brownian mid increment over dt. */
export function midIncrement(rng: Rng, sigma: number, dt: number): number {
  return sigma * Math.sqrt(dt) * rng.normal();
}

function quoted(delta: number): boolean {
  return !Number.isNaN(delta) && delta < Number.POSITIVE_INFINITY;
}

/** Simulates one path of the model world under `policy`. */
export function simulatePath(cfg: SimulationConfig, policy: QuotePolicy, rng: Rng): PathResult {
  const w = cfg.world;
  const T = cfg.horizon;
  const touch = cfg.fillModel === 'touch';
  const s0 = cfg.s0 ?? 0;
  const q0 = cfg.q0 ?? 0;
  let t = 0;
  let s = s0;
  let q = q0;
  let x = 0;
  let intQ2 = 0;
  let fillsPlus = 0;
  let fillsMinus = 0;
  let mos = 0;
  const occupancy = new Float64Array(cfg.qMax - cfg.qMin + 1);
  const ratePlus = w.fillPlus ? arrivalRate(w.fillPlus) : w.lambdaPlus;
  const rateMinus = w.fillMinus ? arrivalRate(w.fillMinus) : w.lambdaMinus;
  const mu = w.midDrift ?? 0;
  const fills = (curve: FillCurve | undefined, kappa: number, d: number, u: number, arrival: number) =>
    touch || (curve ? u * arrival < fillRate(curve, d) : u < fillProbability(kappa, d));
  for (;;) {
    const mo = drawMarketOrder(rng, ratePlus, rateMinus);
    const u = rng.uniform();
    const tNext = t + mo.dt;
    const dt = Math.min(tNext, T) - t;
    s += midIncrement(rng, w.sigma, dt) + mu * dt;
    intQ2 += q * q * dt;
    if (q >= cfg.qMin && q <= cfg.qMax) occupancy[q - cfg.qMin] += dt;
    if (tNext >= T) break;
    t = tNext;
    mos++;
    const quotes = policy(t, q);
    if (mo.side === 1) {
      const d = quotes.deltaPlus;
      if (q > cfg.qMin && quoted(d) && fills(w.fillPlus, w.kappaPlus, d, u, ratePlus)) {
        x += s + d - w.feePerFill;
        q -= 1;
        fillsPlus++;
      }
      s += w.epsilonPlus;
    } else {
      const d = quotes.deltaMinus;
      if (q < cfg.qMax && quoted(d) && fills(w.fillMinus, w.kappaMinus, d, u, rateMinus)) {
        x -= s - d + w.feePerFill;
        q += 1;
        fillsMinus++;
      }
      s -= w.epsilonMinus;
    }
  }
  const objective = x + q * (s - cfg.alpha * q) - cfg.phi * intQ2;
  return {
    cash: x,
    inventory: q,
    mid: s,
    inventorySquaredIntegral: intQ2,
    fillsPlus,
    fillsMinus,
    marketOrders: mos,
    objective,
    pnl: x + q * s - q0 * s0,
    timeAtInventory: occupancy,
  };
}

export interface MonteCarloSummary {
  paths: number;
  meanObjective: number;
  stderrObjective: number;
  meanPnl: number;
  stderrPnl: number;
  meanFills: number;
  /** Per-path objectives (for paired comparisons between policies run with the same seed). */
  objectives: Float64Array;
  pnls: Float64Array;
}

export function meanAndStderr(xs: ArrayLike<number>): { mean: number; stderr: number } {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (xs[i] - m) ** 2;
  return { mean: m, stderr: n > 1 ? Math.sqrt(v / (n - 1) / n) : Number.NaN };
}

/** Runs `paths` independent paths from one seed. */
export function simulateMany(
  cfg: SimulationConfig,
  policy: QuotePolicy,
  paths: number,
  seed: number,
): MonteCarloSummary {
  const rng = new Rng(seed);
  const objectives = new Float64Array(paths);
  const pnls = new Float64Array(paths);
  let fills = 0;
  for (let i = 0; i < paths; i++) {
    const r = simulatePath(cfg, policy, rng);
    objectives[i] = r.objective;
    pnls[i] = r.pnl;
    fills += r.fillsPlus + r.fillsMinus;
  }
  const o = meanAndStderr(objectives);
  const p = meanAndStderr(pnls);
  return {
    paths,
    meanObjective: o.mean,
    stderrObjective: o.stderr,
    meanPnl: p.mean,
    stderrPnl: p.stderr,
    meanFills: fills / paths,
    objectives,
    pnls,
  };
}

/**
 * The model's optimal finite-horizon feedback policy on a time grid of `steps` intervals (the value
 * function at the nearest grid time), for depth or touch mode. Also returns h(0, ·).
 */
export function optimalPolicy(
  p: ModelParams,
  T: number,
  steps: number,
  mode: QuoteMode = 'depth',
  halfSpread = 0,
): { policy: QuotePolicy; h0: Float64Array } {
  const rows = valueGrid(p, T, steps, mode, halfSpread);
  const n = p.qMax - p.qMin + 1;
  const c = p.feePerFill;
  const out: Quotes = { deltaPlus: Number.NaN, deltaMinus: Number.NaN };
  const curves = mode === 'depth' && hasFillCurves(p);
  const tables = curves ? rows.map((h) => quoteTableFromH(p, h)) : [];
  const policy: QuotePolicy = (t, q) => {
    const k = Math.min(steps, Math.max(0, Math.round(((T - t) / T) * steps)));
    const h = rows[k];
    const i = q - p.qMin;
    if (curves) {
      out.deltaPlus = tables[k].deltaPlus[i];
      out.deltaMinus = tables[k].deltaMinus[i];
    } else if (mode === 'depth') {
      out.deltaPlus = i > 0 ? 1 / p.kappaPlus + p.epsilonPlus + c - (h[i - 1] - h[i]) : Number.NaN;
      out.deltaMinus = i < n - 1 ? 1 / p.kappaMinus + p.epsilonMinus + c - (h[i + 1] - h[i]) : Number.NaN;
    } else {
      const postA = i > 0 && halfSpread - p.epsilonPlus - c + h[i - 1] - h[i] > 0;
      const postB = i < n - 1 && halfSpread - p.epsilonMinus - c + h[i + 1] - h[i] > 0;
      out.deltaPlus = postA ? halfSpread : Number.NaN;
      out.deltaMinus = postB ? halfSpread : Number.NaN;
    }
    return out;
  };
  return { policy, h0: rows[steps] };
}

/** The time-independent policy of a quote table (e.g. stationary quotes): the depths at the current q. */
export function tablePolicy(table: QuoteTable): QuotePolicy {
  const out: Quotes = { deltaPlus: Number.NaN, deltaMinus: Number.NaN };
  return (_t, q) => {
    const i = q - table.qMin;
    out.deltaPlus = table.deltaPlus[i];
    out.deltaMinus = table.deltaMinus[i];
    return out;
  };
}
