/**
 * `cjmm quote`: the Cartea–Jaimungal optimal quotes for every inventory level, from flags and/or a params
 * file (the calibration output or a plain params file). Parsing and formatting only; the model does the math.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CalibrationResult } from '../../calibration/types.ts';
import { DOMINANCE_RATIO, DRIFT_POLICIES, type DriftPolicy, shrinkFactor } from '../../model/drift.ts';
import type { InventoryTarget } from '../../model/inventory.ts';
import { toxicityGauge } from '../../model/params.ts';
import {
  type ParamsFile,
  parseParamsFile,
  type QuoteField,
  type QuoteInputs,
  resolveQuoteInputs,
} from '../../model/params-file.ts';
import { regimeStationaryLaw, solveRegimeQuotes } from '../../model/regime.ts';
import { parseRegimeFile, type RegimeMarket } from '../../model/regime-file.ts';
import {
  type JointInventoryLaw,
  solveRegimePhiForTarget,
  stationaryRegimeInventory,
} from '../../model/regime-inventory.ts';
import { solveQuotes } from '../../model/solve.ts';
import type { QuoteTable } from '../../model/types.ts';
import {
  buildCjModel,
  cjDriftEffects,
  type DepthModelSetting,
  driftDominanceHint,
  type MarketParams,
  marketParamsFromCalibration,
  regimeModelParams,
} from '../../strategies/cj-model.ts';
import { CliError } from '../errors.ts';

const FLAG_OF: Record<QuoteField, string> = {
  lambdaPlus: '--lambda-plus',
  lambdaMinus: '--lambda-minus',
  kappaPlus: '--kappa-plus',
  kappaMinus: '--kappa-minus',
  epsilonPlus: '--epsilon-plus',
  epsilonMinus: '--epsilon-minus',
  phi: '--phi',
  alpha: '--alpha',
  qMin: '--q-min',
  qMax: '--q-max',
  horizon: '--horizon',
  elapsed: '--elapsed',
  fee: '--fee',
  mid: '--mid',
  tick: '--tick',
  mode: '--mode',
  halfSpread: '--half-spread',
};

const NUMBER_RE = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function parseNumber(flag: string, raw: string, integer = false): number {
  const v = NUMBER_RE.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(v)) throw new CliError(`${flag} must be a number (got ${raw})`);
  if (integer && !Number.isInteger(v)) throw new CliError(`${flag} must be an integer (got ${raw})`);
  return v;
}

/** Converts the raw string options of the command into typed fields (flags only; no defaults here). */
export function parseQuoteFlags(opts: Record<string, unknown>): Partial<ParamsFile> {
  const out: Partial<ParamsFile> = {};
  const numeric: QuoteField[] = [
    'lambdaPlus',
    'lambdaMinus',
    'kappaPlus',
    'kappaMinus',
    'epsilonPlus',
    'epsilonMinus',
    'phi',
    'alpha',
    'elapsed',
    'fee',
    'mid',
    'tick',
    'halfSpread',
  ];
  const rec = out as Record<string, unknown>;
  for (const k of numeric) {
    const raw = opts[k];
    if (typeof raw === 'string') rec[k] = parseNumber(FLAG_OF[k], raw);
  }
  for (const k of ['qMin', 'qMax'] as const) {
    const raw = opts[k];
    if (typeof raw === 'string') out[k] = parseNumber(FLAG_OF[k], raw, true);
  }
  if (typeof opts.horizon === 'string') {
    const h = opts.horizon.trim().toLowerCase();
    const seconds = Number(h);
    if (h !== 'inf' && h !== 'infinity' && !(NUMBER_RE.test(h) && Number.isFinite(seconds)))
      throw new CliError(`--horizon must be a number of seconds > 0 or inf (got ${opts.horizon})`);
    out.horizon = h === 'inf' || h === 'infinity' ? 'inf' : seconds;
  }
  if (typeof opts.mode === 'string') {
    if (opts.mode !== 'depth' && opts.mode !== 'touch') {
      throw new CliError(`--mode must be depth or touch (got ${opts.mode})`);
    }
    out.mode = opts.mode;
  }
  return out;
}

function decimalsOf(tick: number): number {
  for (let d = 0; d <= 12; d++) if (Math.abs(Math.round(tick * 10 ** d) - tick * 10 ** d) < 1e-9) return d;
  return 12;
}

/** Rounds to the tick grid toward the passive side: bids down, asks up (already-valid prices stay put). */
export function roundPassive(px: number, tick: number, side: 'bid' | 'ask'): number {
  const k = px / tick;
  const r = side === 'bid' ? Math.floor(k + 1e-9) : Math.ceil(k - 1e-9);
  return Number((r * tick).toFixed(decimalsOf(tick)));
}

export interface QuoteRow {
  q: number;
  deltaPlus: number | null;
  deltaMinus: number | null;
  bid: number | null;
  ask: number | null;
  bidBps: number | null;
  askBps: number | null;
  h: number;
  fillRatePlus: number;
  fillRateMinus: number;
  drift: number;
}

/** What `quote` adds to the params: drift policy, depth model, φ from a target (see cj-model.ts). */
export interface QuoteModelOptions {
  drift: DriftPolicy;
  /** SE of D (price/s): from --drift-se or the calibration file; undefined = D as given. */
  driftStderr?: number;
  depthModel: DepthModelSetting;
  /** The calibration file, for its two-part depth fits. */
  calibration?: CalibrationResult;
  /** Solve φ for this target instead of using params.phi. */
  inventoryTarget?: InventoryTarget;
}

export const DEFAULT_QUOTE_MODEL: QuoteModelOptions = { drift: 'shrink', depthModel: 'auto' };

export interface QuoteReport {
  params: QuoteInputs['params'] & { fee: number };
  horizon: number | 'inf';
  elapsed: number;
  mode: QuoteInputs['mode'];
  halfSpread: number | null;
  mid: number | null;
  tick: number | null;
  method: QuoteTable['method'];
  growthRate: number | null;
  toxicity: { plus: number; minus: number };
  /** D = λ⁺ε⁺ − λ⁻ε⁻, its SE, the policy and the D used, and the skew at q = 0 it causes (stationary); the pooled report only. */
  drift?: {
    model: number;
    stderr: number | null;
    z: number | null;
    shrinkFactor: number;
    policy: DriftPolicy;
    used: number;
    skewAtZero: number | null;
    skewAtZeroModel: number | null;
    halfSpreadAtZero: number | null;
    dominates: boolean;
    dominatesWithModel: boolean;
  };
  /** φ used (given or solved from the target) and the stationary inventory law at it. */
  inventory?: {
    phi: number;
    phiSource: 'given' | 'target';
    target: InventoryTarget | null;
    status: string | null;
    rms: number | null;
    std: number | null;
    mean: number | null;
    atBounds: number | null;
  };
  depthModel?: { plus: 'exponential' | 'two-part'; minus: 'exponential' | 'two-part' };
  warnings: string[];
  rows: QuoteRow[];
}

const nullIfNaN = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * Solves the model and assembles the report (pure; shared by table and JSON output): the drift policy, the
 * depth model and φ (given, or solved for the inventory target) as cj builds them (src/strategies/cj-model.ts).
 */
export function buildQuoteReport(
  inputs: QuoteInputs,
  opts: QuoteModelOptions = DEFAULT_QUOTE_MODEL,
): QuoteReport {
  const { mode } = inputs;
  const p0 = inputs.params;
  const tau = Number.isFinite(inputs.horizon) ? inputs.horizon - inputs.elapsed : Number.POSITIVE_INFINITY;
  const halfSpread = inputs.halfSpread ?? undefined;
  const market: MarketParams = opts.calibration
    ? marketParamsFromCalibration(opts.calibration, 0)
    : ({} as MarketParams);
  Object.assign(market, {
    lambdaPlus: p0.lambdaPlus,
    lambdaMinus: p0.lambdaMinus,
    kappaPlus: p0.kappaPlus,
    kappaMinus: p0.kappaMinus,
    epsilonPlus: p0.epsilonPlus,
    epsilonMinus: p0.epsilonMinus,
  });
  if (opts.driftStderr !== undefined) market.driftStderr = opts.driftStderr;
  const model = buildCjModel(market, {
    phi: opts.inventoryTarget ? undefined : p0.phi,
    inventoryTarget: opts.inventoryTarget,
    alpha: p0.alpha,
    qMin: p0.qMin,
    qMax: p0.qMax,
    feePerFill: p0.feePerFill,
    drift: opts.drift,
    depthModel: opts.depthModel,
    mode,
    halfSpread,
    stationary: tau === Number.POSITIVE_INFINITY,
  });
  const p = model.params;
  const table =
    tau === Number.POSITIVE_INFINITY && model.stationary
      ? model.stationary
      : solveQuotes(p, { horizon: tau, mode, halfSpread });
  const report = reportFromTable({ ...inputs, params: p }, table);
  const warnings = report.warnings;
  let effects: ReturnType<typeof cjDriftEffects>;
  try {
    effects = cjDriftEffects(model, mode, halfSpread);
  } catch {
    effects = undefined;
  }
  const d = model.drift;
  if (effects?.used.dominates) {
    warnings.push(
      `the drift D dominates the quotes: it skews them by ${sig(effects.used.effect)} at q = 0, more than half the half-spread ${sig(effects.used.halfSpread)} (--drift ${d.policy}: D used ${sig(d.used)}; ${
        d.policy === 'shrink' && !Number.isFinite(d.z)
          ? 'D has no standard error: --drift-se (or a calibration file as --params) lets --drift shrink weigh it; --drift zero ignores it'
          : driftDominanceHint(d.policy, d.z, (x) => `--drift ${x}`)
      })`,
    );
  } else if (effects?.model?.dominates) {
    warnings.push(
      `with --drift model, D = ${sig(d.model)} would dominate the quotes (skew ${sig(effects.model.effect)} at q = 0 vs half-spread ${sig(effects.model.halfSpread)}); --drift ${d.policy} uses ${sig(d.used)}`,
    );
  }
  if (model.phiSource === 'target' && model.phiStatus !== 'met') {
    warnings.push(
      model.phiStatus === 'unconstrained'
        ? 'inventory target met without an inventory penalty: φ = 0'
        : 'inventory target out of reach of the φ search: φ at its upper end',
    );
  }
  if (opts.inventoryTarget && inputs.horizon !== Number.POSITIVE_INFINITY)
    warnings.push('φ is solved from the stationary inventory law; the finite-horizon quotes use that φ');
  const law = model.law;
  const fin = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);
  report.drift = {
    model: d.model,
    stderr: fin(d.stderr),
    z: fin(d.z),
    shrinkFactor: d.shrinkFactor,
    policy: d.policy,
    used: d.used,
    skewAtZero: fin(effects?.used.effect),
    skewAtZeroModel: fin(effects?.model?.effect),
    halfSpreadAtZero: fin(effects?.used.halfSpread),
    dominates: effects?.used.dominates ?? false,
    dominatesWithModel: effects?.model?.dominates ?? false,
  };
  report.inventory = {
    phi: model.phi,
    phiSource: model.phiSource === 'target' ? 'target' : 'given',
    target: model.target ?? null,
    status: model.phiStatus ?? null,
    rms: fin(law?.rms),
    std: fin(law?.std),
    mean: fin(law?.mean),
    atBounds: fin(law?.atBounds),
  };
  report.depthModel = model.depthModel;
  // Key order of the JSON: the report's own keys, then drift, inventory, depth model, warnings, rows.
  const { warnings: w, rows, ...head } = report;
  return { ...head, warnings: w, rows };
}

/** The imbalance-regime model's quotes: one report per regime, with the generator and its stationary law. */
export interface RegimeQuoteReport {
  thresholds: number[];
  /** 1/s, rows sum to 0. */
  generator: number[][];
  /** Long-run share of time in each regime. */
  stationary: number[];
  growthRate: number | null;
  /**
   * φ of the regime tables: given, or solved for the inventory target on the stationary law of the controlled
   * (inventory, regime) chain (as cj with `signal: imbalance` solves it); and that joint law at φ (stationary).
   */
  phi: number;
  phiSource: 'given' | 'target';
  phiStatus: string | null;
  inventory: {
    rms: number;
    mean: number;
    atBounds: number;
    atBoundsByRegime: number[];
  } | null;
  regimes: (QuoteReport & { regime: number; imbalance: [number, number] })[];
}

/**
 * Solves the (inventory, regime) HJB with each regime's λ±, κ±, ε± and the shared α, bounds, fee, horizon, as
 * cj with `signal: imbalance` builds it (src/strategies/cj-model.ts): each regime's drift D_z under the `--drift`
 * policy (shrunk by its SE when the file carries the regimes' standard errors, as `cjmm calibrate --json`
 * writes them; as given otherwise), φ given or solved for the inventory target on the joint law. Each regime's
 * report carries its drift, the skew at q = 0 the drifts cause (stationary) and a warning when it dominates.
 */
export function buildRegimeQuoteReport(
  inputs: QuoteInputs,
  rm: RegimeMarket,
  opts: Pick<QuoteModelOptions, 'drift' | 'inventoryTarget'> = DEFAULT_QUOTE_MODEL,
): RegimeQuoteReport {
  if (inputs.mode !== 'depth')
    throw new CliError('--regimes needs --mode depth (no at-the-touch regime solver)');
  const m = rm.params.length;
  const tau = Number.isFinite(inputs.horizon) ? inputs.horizon - inputs.elapsed : Number.POSITIVE_INFINITY;
  const stationary = tau === Number.POSITIVE_INFINITY;
  const built = regimeModelParams(rm.params, inputs.params, opts.drift);
  let regimes = built.regimes;
  const generator = rm.generator;
  let sol: ReturnType<typeof solveRegimeQuotes>;
  let phi = inputs.params.phi;
  let phiStatus: string | null = null;
  let law: JointInventoryLaw | undefined;
  try {
    if (opts.inventoryTarget) {
      const s = solveRegimePhiForTarget({ regimes, generator }, opts.inventoryTarget);
      phi = s.phi;
      phiStatus = s.status;
      law = s.law;
      regimes = regimes.map((p) => ({ ...p, phi }));
      sol = stationary ? s.solution : solveRegimeQuotes({ regimes, generator }, { horizon: tau });
    } else {
      sol = solveRegimeQuotes({ regimes, generator }, { horizon: tau });
      if (stationary) law = stationaryRegimeInventory(sol.tables, generator);
    }
  } catch (err) {
    throw new CliError(`--regimes: ${(err as Error).message}`);
  }
  // The drifts' effect at q = 0 (stationary): the same φ with every drift 0, and with the estimated drifts.
  let none: ReturnType<typeof solveRegimeQuotes> | undefined;
  let estimated: ReturnType<typeof solveRegimeQuotes> | undefined;
  if (stationary) {
    const at = (d: (z: number) => number) =>
      solveRegimeQuotes(
        { regimes: regimes.map((p, z) => ({ ...p, drift: d(z) })), generator },
        { horizon: tau, warmStart: sol },
      );
    try {
      none = at(() => 0);
      estimated = at((z) => built.driftsModel[z]);
    } catch {
      none = estimated = undefined;
    }
  }
  const i0 = -inputs.params.qMin;
  const skewHalf = (t: QuoteTable) => ({
    skew: (t.deltaPlus[i0] - t.deltaMinus[i0]) / 2,
    half: (t.deltaPlus[i0] + t.deltaMinus[i0]) / 2,
  });
  const fullGenerator = Array.from({ length: m }, (_, z) => {
    const row = Array.from(generator.subarray(z * m, (z + 1) * m));
    row[z] = 0 - row.reduce((a, c, w) => (w === z ? a : a + c), 0);
    return row;
  });
  const cut = [0, ...rm.thresholds, 1];
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  return {
    thresholds: rm.thresholds,
    generator: fullGenerator,
    stationary: Array.from(regimeStationaryLaw(generator, m)),
    growthRate: sol.growthRate ?? null,
    phi,
    phiSource: opts.inventoryTarget ? 'target' : 'given',
    phiStatus,
    inventory: law
      ? {
          rms: law.rms,
          mean: law.mean,
          atBounds: law.atBounds,
          atBoundsByRegime: Array.from(law.atBoundsByRegime),
        }
      : null,
    regimes: sol.tables.map((t, z) => {
      const rep = reportFromTable({ ...inputs, params: regimes[z] }, t);
      const dModel = built.driftsModel[z];
      const dUsed = built.driftsUsed[z];
      const se = built.driftsStderr[z];
      let skew: number | null = null;
      let skewModel: number | null = null;
      let half: number | null = null;
      let dominates = false;
      let dominatesWithModel = false;
      if (none && estimated) {
        const base = skewHalf(none.tables[z]);
        skew = fin(skewHalf(t).skew - base.skew);
        skewModel = fin(skewHalf(estimated.tables[z]).skew - base.skew);
        half = fin(base.half);
        dominates = skew !== null && half !== null && Math.abs(skew) > DOMINANCE_RATIO * half;
        dominatesWithModel =
          skewModel !== null && half !== null && Math.abs(skewModel) > DOMINANCE_RATIO * half;
      }
      if (dominates)
        rep.warnings.push(
          `the drifts dominate regime ${z}'s quotes: they skew them by ${sig(skew ?? Number.NaN)} at q = 0, more than half the half-spread ${sig(half ?? Number.NaN)} (--drift ${opts.drift}: D_${z} used ${sig(dUsed)}; ${driftDominanceHint(opts.drift, dModel / se, (x) => `--drift ${x}`)})`,
        );
      else if (dominatesWithModel)
        rep.warnings.push(
          `with --drift model, the drifts would dominate regime ${z}'s quotes (skew ${sig(skewModel ?? Number.NaN)} at q = 0 vs half-spread ${sig(half ?? Number.NaN)}); --drift ${opts.drift} uses D_${z} = ${sig(dUsed)}`,
        );
      const { warnings, rows, ...head } = rep;
      return {
        regime: z,
        imbalance: [cut[z], cut[z + 1]] as [number, number],
        ...head,
        drift: {
          model: dModel,
          stderr: fin(se),
          z: fin(dModel / se),
          shrinkFactor: shrinkFactor(dModel, se),
          policy: opts.drift,
          used: dUsed,
          skewAtZero: skew,
          skewAtZeroModel: skewModel,
          halfSpreadAtZero: half,
          dominates,
          dominatesWithModel,
        },
        warnings,
        rows,
      };
    }),
  };
}

/**
 * The regimes' standard errors from a regime file's JSON (the `regimes` of `cjmm calibrate --json`, or the
 * whole output): what `--drift shrink` weighs each D_z by. Undefined per regime when absent.
 */
export function regimeStderrsOf(text: string): (Record<string, number> | undefined)[] {
  try {
    const json = JSON.parse(text) as { regimes?: unknown; params?: unknown; generator?: unknown };
    const obj = (json && 'regimes' in json && !('generator' in json) ? json.regimes : json) as {
      params?: { stderr?: Record<string, number> }[];
    };
    return (obj?.params ?? []).map((p) => (p && typeof p.stderr === 'object' ? p.stderr : undefined));
  } catch {
    return [];
  }
}

/** Assembles a report from a solved table (warnings, prices, bps). */
function reportFromTable(inputs: QuoteInputs, table: QuoteTable): QuoteReport {
  const { params: p, mid, tick, mode } = inputs;
  const warnings = [...inputs.warnings];
  const toxicity = toxicityGauge(p);
  for (const [side, g] of [
    ['κ⁺ε⁺', toxicity.plus],
    ['κ⁻ε⁻', toxicity.minus],
  ] as const) {
    if (g >= 1) {
      warnings.push(
        `toxicity ${side} = ${g.toFixed(3)} >= 1: ${g >= 2 ? 'avoid this market' : 'competitive at best'} (rule of thumb: < 1 workable, 1–2 competitive, >= 2 avoid)`,
      );
    }
  }
  const rows: QuoteRow[] = [];
  const crossing: number[] = [];
  for (let i = 0; i < table.h.length; i++) {
    const q = p.qMin + i;
    const dp = nullIfNaN(table.deltaPlus[i]);
    const dm = nullIfNaN(table.deltaMinus[i]);
    if ((dp !== null && dp < 0) || (dm !== null && dm < 0)) crossing.push(q);
    let bid: number | null = null;
    let ask: number | null = null;
    if (mid !== null) {
      if (dm !== null) bid = tick !== null ? roundPassive(mid - dm, tick, 'bid') : mid - dm;
      if (dp !== null) ask = tick !== null ? roundPassive(mid + dp, tick, 'ask') : mid + dp;
    }
    rows.push({
      q,
      deltaPlus: dp,
      deltaMinus: dm,
      bid,
      ask,
      bidBps: bid !== null && mid !== null ? ((mid - bid) / mid) * 1e4 : null,
      askBps: ask !== null && mid !== null ? ((ask - mid) / mid) * 1e4 : null,
      h: table.h[i],
      fillRatePlus: table.fillRatePlus[i],
      fillRateMinus: table.fillRateMinus[i],
      drift: table.drift[i],
    });
  }
  if (crossing.length > 0) {
    warnings.push(
      `negative depth at q = ${crossing.join(', ')}: the model wants to cross the mid there; the quoting layer clamps to the passive side`,
    );
  }
  return {
    params: { ...p, fee: inputs.fee },
    horizon: Number.isFinite(inputs.horizon) ? inputs.horizon : 'inf',
    elapsed: inputs.elapsed,
    mode,
    halfSpread: inputs.halfSpread,
    mid,
    tick,
    method: table.method,
    growthRate: table.growthRate ?? null,
    toxicity,
    warnings,
    rows,
  };
}

function fmt(x: number | null, digits: number): string {
  return x === null ? '—' : x.toFixed(digits);
}

function sig(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? x.toPrecision(4) : x.toExponential(2);
}

/** The human-readable table. */
export function formatQuoteTable(r: QuoteReport): string {
  const p = r.params;
  const lines: string[] = [];
  const hz = r.horizon === 'inf' ? 'inf (stationary)' : `${r.horizon} s, elapsed ${r.elapsed} s`;
  lines.push(
    `Cartea–Jaimungal quotes  mode ${r.mode}${r.halfSpread !== null ? ` (Δ/2 = ${r.halfSpread})` : ''}  horizon ${hz}  solver ${r.method}`,
  );
  lines.push(
    `λ⁺ ${p.lambdaPlus} λ⁻ ${p.lambdaMinus} /s  κ⁺ ${p.kappaPlus} κ⁻ ${p.kappaMinus} /price  ε⁺ ${p.epsilonPlus} ε⁻ ${p.epsilonMinus}  φ ${p.phi} α ${p.alpha}  q ${p.qMin}..${p.qMax}  fee ${p.fee} (c = ${sig(p.feePerFill)} per fill)`,
  );
  lines.push(
    `mid ${r.mid ?? '— (no --mid: depths only)'}  tick ${r.tick ?? '—'}  toxicity κ⁺ε⁺ ${r.toxicity.plus.toFixed(3)}  κ⁻ε⁻ ${r.toxicity.minus.toFixed(3)}${r.growthRate !== null ? `  growth ${sig(r.growthRate)} /s` : ''}`,
  );
  const d = r.drift;
  const inv = r.inventory;
  if (d && inv && r.depthModel) {
    // D is a difference of products: show rounding residue (|D| ≪ λ⁺ε⁺ + λ⁻ε⁻) as 0.
    const scale = Math.abs(p.lambdaPlus * p.epsilonPlus) + Math.abs(p.lambdaMinus * p.epsilonMinus);
    const tiny = (x: number) => (Math.abs(x) <= 1e-12 * scale ? 0 : x);
    lines.push(
      `drift D ${sig(tiny(d.model))}${d.stderr !== null ? ` ± ${sig(d.stderr)}` : ''} /s, ${d.policy} → ${sig(tiny(d.used))}${d.skewAtZero !== null ? `, skew at q = 0 ${sig(d.skewAtZero)} (with D as estimated ${sig(d.skewAtZeroModel ?? Number.NaN)}; half-spread ${sig(d.halfSpreadAtZero ?? Number.NaN)})` : ''}  depth model ${r.depthModel.plus}/${r.depthModel.minus}`,
    );
    lines.push(
      `φ ${sig(inv.phi)} (${
        inv.phiSource === 'target'
          ? `solved for ${Object.entries(inv.target ?? {})
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}: ${inv.status}`
          : 'given'
      })${inv.rms !== null ? `  stationary inventory RMS ${sig(inv.rms)} lots, mean ${sig(inv.mean ?? Number.NaN)}, at bounds ${sig(100 * (inv.atBounds ?? Number.NaN))} %` : ''}`,
    );
  }
  for (const w of r.warnings) lines.push(`WARNING: ${w}`);
  const pxDigits = r.tick !== null ? decimalsOf(r.tick) : 4;
  const head = [
    'q',
    'ask depth',
    'ask',
    'ask bps',
    'bid depth',
    'bid',
    'bid bps',
    'fill⁺/s',
    'fill⁻/s',
    'drift/s',
  ];
  const body = r.rows.map((row) => [
    String(row.q),
    fmt(row.deltaPlus, 5),
    fmt(row.ask, pxDigits),
    fmt(row.askBps, 3),
    fmt(row.deltaMinus, 5),
    fmt(row.bid, pxDigits),
    fmt(row.bidBps, 3),
    sig(row.fillRatePlus),
    sig(row.fillRateMinus),
    sig(row.drift),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padStart(widths[c])).join('  ');
  lines.push(line(head));
  for (const b of body) lines.push(line(b));
  return lines.join('\n');
}

/** The regime tables: the generator, then each regime's table (formatQuoteTable's layout). */
export function formatRegimeTables(r: RegimeQuoteReport): string {
  const m = r.regimes.length;
  const lines: string[] = [];
  lines.push(
    `Imbalance-regime quotes (Cartea, Donnelly & Jaimungal 2018): ${m} regimes of the touch imbalance I = bid size / (bid + ask)`,
  );
  lines.push(
    `generator (1/s, from row to column): ${r.generator.map((row) => `[${row.map((c) => sig(c)).join(' ')}]`).join(' ')}; long-run time share ${r.stationary.map((p) => `${(100 * p).toFixed(1)} %`).join(' / ')}${r.growthRate !== null ? `; growth ${sig(r.growthRate)} /s` : ''}`,
  );
  const inv = r.inventory;
  lines.push(
    `φ ${sig(r.phi)} (${r.phiSource === 'target' ? `solved for the target on the joint (inventory, regime) law: ${r.phiStatus}` : 'given'})${inv ? `  joint stationary inventory RMS ${sig(inv.rms)} lots, mean ${sig(inv.mean)}, at bounds ${sig(100 * inv.atBounds)} % (by regime ${inv.atBoundsByRegime.map((x) => `${sig(100 * x)} %`).join(' / ')})` : ''}`,
  );
  for (const rep of r.regimes) {
    lines.push('');
    lines.push(
      `== regime ${rep.regime}: I in [${rep.imbalance[0].toFixed(3)}, ${rep.imbalance[1].toFixed(3)})`,
    );
    const d = rep.drift;
    const table = formatQuoteTable({ ...rep, drift: undefined }).split('\n');
    if (d)
      table.splice(
        3,
        0,
        `drift D_${rep.regime} ${sig(d.model)}${d.stderr !== null ? ` ± ${sig(d.stderr)}` : ''} /s, ${d.policy} → ${sig(d.used)}${d.skewAtZero !== null ? `, skew at q = 0 from the drifts ${sig(d.skewAtZero)} (with D as estimated ${sig(d.skewAtZeroModel ?? Number.NaN)}; half-spread ${sig(d.halfSpreadAtZero ?? Number.NaN)})` : ''}`,
      );
    lines.push(table.join('\n'));
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('quote')
    .description('optimal Cartea–Jaimungal bid/ask depths and prices for every inventory level')
    .option('--params <file>', 'params JSON: calibration output or a plain params file (flags override it)')
    .option('--lambda-plus <rate>', 'buy MO arrival rate λ⁺ (1/s, >= 0)')
    .option('--lambda-minus <rate>', 'sell MO arrival rate λ⁻ (1/s, >= 0)')
    .option('--kappa-plus <k>', 'ask fill decay κ⁺ (1/price, > 0)')
    .option('--kappa-minus <k>', 'bid fill decay κ⁻ (1/price, > 0)')
    .option('--epsilon-plus <eps>', 'mid jump after a buy MO ε⁺ (price)')
    .option('--epsilon-minus <eps>', 'mid drop after a sell MO ε⁻ (price)')
    .option('--phi <phi>', 'running inventory penalty φ (price/(lot²·s), >= 0; default 0)')
    .option('--alpha <alpha>', 'terminal inventory penalty α (price/lot², >= 0; default 0)')
    .option('--q-min <lots>', 'lower inventory bound (integer <= 0; default -10)')
    .option('--q-max <lots>', 'upper inventory bound (integer >= 0; default 10)')
    .option('--horizon <seconds|inf>', 'horizon T in seconds, or inf for stationary quotes (default inf)')
    .option('--elapsed <s>', 'time already elapsed t (s); quotes use T − t (default 0)')
    .option('--fee <fraction>', 'maker fee as a fraction of notional (default 0.00015)')
    .option('--mid <price>', 'mid price: enables prices, bps and the fee c = fee × mid')
    .option('--tick <size>', 'tick size: prices rounded passive (bid down, ask up); touch mode Δ = tick')
    .option(
      '--mode <depth|touch>',
      'depth (optimal depths) or touch (post at the touch or not; default depth)',
    )
    .option('--half-spread <price>', 'touch mode: half-spread Δ/2 (default tick / 2)')
    .option(
      '--drift <policy>',
      'drift D = λ⁺ε⁺ − λ⁻ε⁻ in the quotes: model, shrink (by its significance; needs its SE) or zero',
      'shrink',
    )
    .option(
      '--drift-se <price/s>',
      'standard error of D for --drift shrink (default: from the calibration file)',
    )
    .option(
      '--depth-model <model>',
      "auto (the calibration file's choice), exponential or two-part (needs the calibration file)",
      'auto',
    )
    .option('--inventory-std <lots>', 'solve φ so the stationary inventory RMS √E[q²] is this many lots')
    .option(
      '--max-time-at-bound <fraction>',
      'solve φ so the stationary share of time at a bound is at most this',
    )
    .option(
      '--regimes <file>',
      "regime model (the 'regimes' of cjmm calibrate --json, or the whole calibration output): per-regime tables",
    )
    .option('--json', 'print one JSON object instead of the table')
    .action((opts: Record<string, unknown>) => {
      let file: ParamsFile = {};
      let calibration: CalibrationResult | undefined;
      if (typeof opts.params === 'string') {
        let text: string;
        try {
          text = readFileSync(opts.params, 'utf8');
        } catch (err) {
          throw new CliError(
            `--params: cannot read ${opts.params} (${(err as NodeJS.ErrnoException).code ?? err})`,
          );
        }
        try {
          file = parseParamsFile(text, `--params ${opts.params}`);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        calibration = calibrationOf(JSON.parse(text));
      }
      const flags = parseQuoteFlags(opts);
      const model = parseModelFlags(opts, calibration);
      if (model.inventoryTarget && flags.phi !== undefined)
        throw new CliError(
          'give --phi or an inventory target (--inventory-std, --max-time-at-bound), not both',
        );
      let regimeMarket: RegimeMarket | undefined;
      let regimeText = '';
      let pooled = true;
      if (typeof opts.regimes === 'string') {
        let text: string;
        try {
          text = readFileSync(opts.regimes, 'utf8');
          regimeText = text;
        } catch (err) {
          throw new CliError(
            `--regimes: cannot read ${opts.regimes} (${(err as NodeJS.ErrnoException).code ?? err})`,
          );
        }
        try {
          regimeMarket = parseRegimeFile(text, `--regimes ${opts.regimes}`);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        // Without pooled λ±, κ±, ε± (flags or --params) only the regime tables are printed; the first
        // regime's values stand in so the shared inputs (φ, α, bounds, fee, mid, horizon) can be checked.
        const marketKeys = [
          'lambdaPlus',
          'lambdaMinus',
          'kappaPlus',
          'kappaMinus',
          'epsilonPlus',
          'epsilonMinus',
        ] as const;
        if (marketKeys.some((k) => flags[k] === undefined && file[k] === undefined)) {
          pooled = false;
          file = { ...regimeMarket.params[0], ...file };
        }
      }
      const resolved = resolveQuoteInputs(file, flags, (f) => FLAG_OF[f]);
      if (resolved.inputs === null) throw new CliError(resolved.errors.join('; '));
      let report: QuoteReport | undefined;
      try {
        report = pooled ? buildQuoteReport(resolved.inputs, model) : undefined;
      } catch (err) {
        if (err instanceof RangeError) throw new CliError(err.message);
        throw err;
      }
      let regimes: RegimeQuoteReport | undefined;
      if (regimeMarket) {
        // Per-regime standard errors (calibration output) let --drift shrink weigh each D_z.
        const ses = regimeStderrsOf(regimeText);
        const rmWithSe = {
          ...regimeMarket,
          params: regimeMarket.params.map((p, z) => (ses[z] ? { ...p, stderr: ses[z] } : p)),
        };
        regimes = buildRegimeQuoteReport(resolved.inputs, rmWithSe, model);
      }
      if (opts.json) {
        if (!regimes) console.log(JSON.stringify(report, null, 2));
        else console.log(JSON.stringify({ ...(report ?? {}), regimeModel: regimes }, null, 2));
      } else {
        if (report) console.log(formatQuoteTable(report));
        if (regimes) console.log(`${report ? '\n' : ''}${formatRegimeTables(regimes)}`);
      }
    });
}

/** The params file as a calibration output (with standard errors and fits), if it is one. */
function calibrationOf(json: unknown): CalibrationResult | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const r = json as Partial<CalibrationResult>;
  return r.stderr && typeof r.stderr === 'object' && Array.isArray(r.markouts)
    ? (r as CalibrationResult)
    : undefined;
}

/** --drift, --drift-se, --depth-model, --inventory-std, --max-time-at-bound. */
export function parseModelFlags(
  opts: Record<string, unknown>,
  calibration: CalibrationResult | undefined,
): QuoteModelOptions {
  const drift = String(opts.drift ?? 'shrink');
  if (!DRIFT_POLICIES.includes(drift as DriftPolicy))
    throw new CliError(`--drift must be model, shrink or zero (got ${drift})`);
  const depthModel = String(opts.depthModel ?? 'auto');
  if (depthModel !== 'auto' && depthModel !== 'exponential' && depthModel !== 'two-part')
    throw new CliError(`--depth-model must be auto, exponential or two-part (got ${depthModel})`);
  if (depthModel === 'two-part' && !calibration?.depthModel)
    throw new CliError(
      '--depth-model two-part needs the fits of a calibration file (--params from cjmm calibrate)',
    );
  const out: QuoteModelOptions = {
    drift: drift as DriftPolicy,
    depthModel: depthModel as DepthModelSetting,
    calibration,
  };
  if (typeof opts.driftSe === 'string') {
    const v = parseNumber('--drift-se', opts.driftSe);
    if (!(v >= 0)) throw new CliError(`--drift-se must be >= 0 (got ${opts.driftSe})`);
    out.driftStderr = v;
  }
  const target: InventoryTarget = {};
  if (typeof opts.inventoryStd === 'string') {
    const v = parseNumber('--inventory-std', opts.inventoryStd);
    if (!(v > 0))
      throw new CliError(`--inventory-std must be a number of lots > 0 (got ${opts.inventoryStd})`);
    target.stdLots = v;
  }
  if (typeof opts.maxTimeAtBound === 'string') {
    const v = parseNumber('--max-time-at-bound', opts.maxTimeAtBound);
    if (!(v > 0 && v < 1))
      throw new CliError(`--max-time-at-bound must be a fraction in (0, 1) (got ${opts.maxTimeAtBound})`);
    target.maxTimeAtBound = v;
  }
  if (target.stdLots !== undefined || target.maxTimeAtBound !== undefined) out.inventoryTarget = target;
  return out;
}
