/**
 * `cjmm calibrate`: λ±, κ±, ε±, σ from a store or any raw source B's readSource understands. Parsing,
 * reading and printing only; the estimators live in src/calibration.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { calibrateSorted } from '../../calibration/calibrate.ts';
import { DEFAULT_HORIZONS, parseDurationMs, parseHorizon } from '../../calibration/markout.ts';
import { calibrationReportHtml } from '../../calibration/report.ts';
import { RollingCalibrator } from '../../calibration/rolling.ts';
import type { CalibrationResult, MicropriceSummary, RegimeCalibration } from '../../calibration/types.ts';
import type { Gap, MarketEvent } from '../../marketdata/events.ts';
import { readSource, SourceError } from '../../marketdata/source.ts';
import { isoTime, parseTimeArg } from '../../marketdata/time.ts';
import { cjQuotingSummary } from '../../strategies/cj-model.ts';
import { CliError } from '../errors.ts';

interface CalibrateFlags {
  data: string;
  coin: string;
  window: string;
  at?: string;
  markout: string;
  horizons: string;
  tick?: string;
  json?: boolean;
  out?: string;
  report?: string;
  legacyOut?: string;
  regimes: string;
  imbalanceBuckets: string;
  spreadBuckets: string;
}

export function register(program: Command): void {
  program
    .command('calibrate')
    .description('estimate λ±, κ±, ε±, σ from recorded market data (store or raw collector files)')
    .requiredOption(
      '--data <path>',
      'market-data store or importable source (seed Parquet/CSV folder, archive, ws capture)',
    )
    .requiredOption('--coin <coin>', 'coin, e.g. ETH')
    .option('--window <len>', "window ending at --at: a duration (30m, 2h, 900s) or 'all'", '30m')
    .option('--at <time>', 'end of the window: ISO-8601 UTC or epoch ms (default: end of the data)')
    .option('--markout <horizon>', 'markout horizon whose ε feeds the model (e.g. 1s, 500ms)', '1s')
    .option('--horizons <list>', 'markout horizons to report, comma-separated', DEFAULT_HORIZONS.join(','))
    .option('--tick <px>', 'price grid (default: inferred from the book)')
    .option('--json', 'print the parameter set as JSON')
    .option('--out <file>', 'write the parameter set as JSON (accepted by cjmm quote --params)')
    .option('--report <file>', 'write a self-contained HTML report')
    .option('--legacy-out <dir>', "also write the original system's kappa.json, epsilon.json, lambda.json")
    .option(
      '--regimes <n>',
      'imbalance regimes of the regime model (touch imbalance cut into n equal-width regimes; 0 = none)',
      '3',
    )
    .option('--imbalance-buckets <n>', 'micro-price imbalance buckets (0 = no micro-price)', '10')
    .option('--spread-buckets <n>', 'micro-price spread buckets (1..n ticks)', '2')
    .action(async (flags: CalibrateFlags) => {
      await runCalibrate(flags);
    });
}

/** Run a parser; its RangeError/SourceError becomes a CliError, prefixed with `flag` unless it already names it. */
function cliParse<T>(fn: () => T, flag?: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError || err instanceof SourceError) {
      const named = flag === undefined || err.message.startsWith(flag);
      throw new CliError(named ? err.message : `${flag}: ${err.message}`);
    }
    throw err;
  }
}

async function runCalibrate(flags: CalibrateFlags): Promise<void> {
  const coin = flags.coin.trim();
  if (!coin) throw new CliError('--coin: give a coin name, e.g. --coin ETH');
  const windowMs =
    flags.window === 'all'
      ? Number.POSITIVE_INFINITY
      : cliParse(() => {
          const ms = parseDurationMs(flags.window);
          if (!(ms >= 60_000))
            throw new RangeError(`--window: ${flags.window} is shorter than 1m; use e.g. 30m, 2h or all`);
          return ms;
        }, '--window');
  const at = flags.at === undefined ? undefined : cliParse(() => parseTimeArg(flags.at!, '--at'));
  const markoutHorizon = cliParse(() => parseHorizon(flags.markout), '--markout');
  if (markoutHorizon.next)
    throw new CliError("--markout: give a duration such as 1s ('next' is reported, not used)");
  const horizons = flags.horizons
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  cliParse(() => horizons.forEach(parseHorizon), '--horizons');
  let tick: number | undefined;
  if (flags.tick !== undefined) {
    tick = Number(flags.tick);
    if (!(tick > 0)) throw new CliError(`--tick: expected a positive price increment, got '${flags.tick}'`);
  }

  let events: MarketEvent[];
  let gaps: Gap[];
  try {
    const data = await readSource(flags.data, { coin });
    events = data.events.filter((e) => e.coin === coin);
    gaps = data.gaps;
  } catch (err) {
    if (err instanceof SourceError) throw new CliError(`--data: ${err.message}`);
    throw err;
  }
  if (events.length === 0)
    throw new CliError(`--coin: no ${coin} events in ${flags.data}; check the coin name`);
  // readSource returns events sorted by exchange time.
  const last = events[events.length - 1].exTime;
  if (at !== undefined && at < events[0].exTime)
    throw new CliError(`--at: ${isoTime(at)} is before the data starts (${isoTime(events[0].exTime)})`);
  const end = at ?? last;

  const intFlag = (flag: string, raw: string, min: number, max: number): number => {
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max)
      throw new CliError(`${flag}: expected an integer from ${min} to ${max}, got '${raw}'`);
    return v;
  };
  const regimeCount = intFlag('--regimes', flags.regimes, 0, 10);
  const imbalanceBuckets = intFlag('--imbalance-buckets', flags.imbalanceBuckets, 0, 100);
  if (imbalanceBuckets === 1) throw new CliError('--imbalance-buckets: use 0 (no micro-price) or at least 2');
  const spreadBuckets = intFlag('--spread-buckets', flags.spreadBuckets, 1, 20);
  const opts = {
    coin,
    tick,
    markoutHorizonMs: markoutHorizon.ms,
    horizons,
    regimes: regimeCount > 0 ? { count: regimeCount } : undefined,
    microprice: imbalanceBuckets > 0 ? { imbalanceBuckets, spreadBuckets } : undefined,
  };
  const out = calibrateSorted(events, gaps, { ...opts, windowMs, at: end });
  const r = out.result;
  if (!r) {
    throw new CliError(
      `insufficient data for ${coin} in the window ending ${isoTime(end)} (${out.flags.join(', ')}); ` +
        'use a longer --window or check --coin/--at',
      3,
    );
  }

  try {
    r.quoting = cjQuotingSummary(r);
  } catch (err) {
    console.error(`cjmm: could not solve cj's default quotes on these parameters: ${(err as Error).message}`);
  }
  if (flags.out) writeJson(flags.out, r);
  if (flags.legacyOut) writeLegacy(flags.legacyOut, r);
  if (flags.report) {
    const span = end - events[0].exTime;
    const history =
      Number.isFinite(windowMs) && span > windowMs ? rollingHistory(events, gaps, opts, windowMs, end) : [];
    ensureDir(flags.report);
    writeFileSync(flags.report, calibrationReportHtml(r, history));
  }
  if (flags.json) console.log(JSON.stringify(r, null, 2));
  else printHuman(r, flags);
}

/** The regime model: generator (1/s) with SEs and per-regime parameters. */
function printRegimes(g: RegimeCalibration, f: (v: number, d?: number) => string): void {
  const m = g.count;
  const cut = [0, ...g.thresholds, 1];
  console.log(
    `imbalance regimes (I = bid size / (bid + ask) at the touch): ${Array.from({ length: m }, (_, z) => `${z} [${cut[z].toFixed(2)}, ${cut[z + 1].toFixed(2)})`).join('  ')}`,
  );
  console.log(
    `  time share ${g.occupancy.map((o) => `${(100 * o).toFixed(1)} %`).join(' / ')}; generator (1/s, ± SE) rows from → columns to:`,
  );
  for (let z = 0; z < m; z++) {
    const cells = g.generator[z].map((c, w) =>
      w === z ? '—'.padEnd(16) : `${f(c, 3)} ± ${f(g.generatorStderr[z][w], 2)}`.padEnd(16),
    );
    console.log(`  ${String(z).padEnd(3)}${cells.join('')}`.trimEnd());
  }
  const pm = (v: number, se: number) => `${f(v, 3)}±${f(se, 2)}`.padEnd(14);
  console.log(
    `  ${'regime'.padEnd(8)}${['λ⁺', 'λ⁻', 'κ⁺', 'κ⁻', 'ε⁺', 'ε⁻'].map((h) => h.padEnd(14)).join('')}MOs ⁺/⁻`,
  );
  for (const p of g.params) {
    console.log(
      `  ${`${p.regime}${p.source === 'pooled' ? '*' : ''}`.padEnd(8)}${pm(p.lambdaPlus, p.stderr.lambdaPlus)}${pm(p.lambdaMinus, p.stderr.lambdaMinus)}${pm(p.kappaPlus, p.stderr.kappaPlus)}${pm(p.kappaMinus, p.stderr.kappaMinus)}${pm(p.epsilonPlus, p.stderr.epsilonPlus)}${pm(p.epsilonMinus, p.stderr.epsilonMinus)}${p.samples.mosPlus}/${p.samples.mosMinus}`,
    );
  }
  if (g.params.some((p) => p.source === 'pooled'))
    console.log('  * some parameters from the pooled estimate (too few MOs in the regime)');
  if (g.quality.flags.length > 0) console.log(`  regime flags: ${g.quality.flags.join(', ')}`);
}

/** The micro-price adjustment G* per imbalance bucket at each spread, in ticks. */
function printMicroprice(mp: MicropriceSummary, tick: number): void {
  console.log(
    `micro-price (Stoikov 2018): ${mp.transitions} transitions, ${mp.iterations} terms${mp.converged ? '' : ' (NOT converged: the reference stays the mid)'}, ${mp.discardedMoves} jumps beyond the move cap discarded`,
  );
  for (let s = 0; s < mp.spreadBuckets; s++) {
    const row = mp.adjustment[s].map((v, b) =>
      (mp.visits[s][b] > 0 ? (v / tick).toFixed(2) : '—').padStart(6),
    );
    console.log(
      `  spread ${s + 1}${s + 1 === mp.spreadBuckets ? '+' : ' '} tick: adjustment (ticks) by imbalance bucket ${row.join('')}`,
    );
  }
}

/** Parameters through time: the rolling calibrator over all data, about 200 refreshes. */
function rollingHistory(
  events: MarketEvent[],
  gaps: Gap[],
  opts: { coin: string; tick?: number; markoutHorizonMs: number; horizons: string[] },
  windowMs: number,
  end: number,
): CalibrationResult[] {
  const span = end - events[0].exTime;
  const cal = new RollingCalibrator({
    coin: opts.coin,
    tick: opts.tick,
    markoutHorizonMs: opts.markoutHorizonMs,
    horizons: opts.horizons,
    windowMs,
    refreshMs: Math.max(15_000, span / 200),
    quoteSource: events.some((e) => e.kind === 'bbo') ? 'bbo' : 'book',
  });
  for (const g of gaps) cal.onGap(g);
  const out: CalibrationResult[] = [];
  const first = events[0].exTime;
  for (const ev of events) {
    if (ev.exTime > end) break;
    cal.onEvent(ev);
    if (ev.exTime - first < windowMs) continue; // only full windows
    const r = cal.maybeRefresh(ev.exTime);
    if (r && r.source === 'fresh') out.push(r);
  }
  return out;
}

function ensureDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
}

function writeJson(file: string, value: unknown): void {
  ensureDir(file);
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The original system's files: kappa.json {kappa+, kappa-}, epsilon.json {epsilon+, epsilon-}, lambda.json {lambda+, lambda-}. */
function writeLegacy(dir: string, r: CalibrationResult): void {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'kappa.json'), { 'kappa+': r.kappaPlus, 'kappa-': r.kappaMinus });
  writeJson(join(dir, 'epsilon.json'), { 'epsilon+': r.epsilonPlus, 'epsilon-': r.epsilonMinus });
  writeJson(join(dir, 'lambda.json'), { 'lambda+': r.lambdaPlus, 'lambda-': r.lambdaMinus });
}

function printHuman(r: CalibrationResult, flags: CalibrateFlags): void {
  const f = (v: number, d = 4) => (Number.isFinite(v) ? v.toPrecision(d) : String(v));
  const pm = (v: number, se: number) => `${f(v)} ± ${f(se, 2)}`.padEnd(22);
  console.log(
    `${r.coin}  ${isoTime(r.window.start)} → ${isoTime(r.window.end)}  (${r.window.observedSec.toFixed(0)} s observed, gaps excluded)  tick ${r.spread.tick}`,
  );
  console.log(`${''.padEnd(16)}${'plus (buy MOs)'.padEnd(22)}minus (sell MOs)`);
  const row = (label: string, a: 'lambda' | 'kappa' | 'epsilon' | 'moRate') =>
    console.log(
      `${label.padEnd(16)}${pm(r[`${a}Plus`], r.stderr[`${a}Plus`])}${pm(r[`${a}Minus`], r.stderr[`${a}Minus`])}`.trimEnd(),
    );
  row('λ (1/s)', 'lambda');
  row('κ (1/price)', 'kappa');
  row(`ε@${r.markoutHorizon} (price)`, 'epsilon');
  row('MO rate (1/s)', 'moRate');
  console.log(
    `${'MOs / fills'.padEnd(16)}${`${r.samples.mosPlus} / ${r.samples.fillsPlus}`.padEnd(22)}${r.samples.mosMinus} / ${r.samples.fillsMinus}`,
  );
  console.log(`${'toxicity κε'.padEnd(16)}${f(r.toxicityPlus, 3).padEnd(22)}${f(r.toxicityMinus, 3)}`);
  console.log(`σ = ${pm(r.sigma, r.stderr.sigma).trim()} price/√s (1 s grid, jumps included)`);
  console.log(
    `spread: ${(100 * r.spread.fracAtOneTick).toFixed(1)} % of time at 1 tick, mean half-spread ${f(r.spread.meanHalfSpread)}`,
  );
  console.log(
    `markouts (price): ${r.markouts.map((m) => `${m.horizon} ${f(m.plus.mean, 3)}/${f(m.minus.mean, 3)}`).join('  ')}`,
  );
  console.log(
    `source ${r.source}; quality ${r.quality.ok ? 'ok' : 'NOT ok'}${r.quality.flags.length ? `: ${r.quality.flags.join(', ')}` : ''}`,
  );
  if (r.regimes) printRegimes(r.regimes, f);
  if (r.microprice) printMicroprice(r.microprice, r.spread.tick);
  for (const line of depthModelLines(r)) console.log(line);
  for (const line of driftLines(r)) console.log(line);
  if (flags.out) console.log(`wrote ${flags.out}`);
  if (flags.legacyOut) console.log(`wrote ${join(flags.legacyOut, 'kappa.json')}, epsilon.json, lambda.json`);
  if (flags.report) console.log(`wrote ${flags.report}`);
}

const g = (v: number, d = 3) => (Number.isFinite(v) ? v.toPrecision(d) : '—');
const pv = (p: number) => (!Number.isFinite(p) ? '—' : p < 1e-4 ? p.toExponential(0) : p.toPrecision(2));

/** The one-tick-book depth model: both fits per side and which one the quotes use. */
export function depthModelLines(r: CalibrationResult): string[] {
  const dm = r.depthModel;
  if (!dm) return [];
  const col = (s: string) => s.padEnd(22);
  const both = (label: string, f: (side: 'plus' | 'minus') => string) =>
    `${label.padEnd(20)}${col(f('plus'))}${f('minus')}`.trimEnd();
  const tp = (side: 'plus' | 'minus') => dm[side].twoPart;
  return [
    `depth model, one-tick book (${dm.plus.seconds.toFixed(0)} s; MOs ${dm.plus.n} / ${dm.minus.n}):`,
    both('  exponential', (s) => {
      const e = dm[s].exponential;
      return e ? `κ ${g(e.kappa)}, χ² p ${pv(e.pValue)}` : '—';
    }),
    both('  two-part', (s) => {
      const t = tp(s);
      return t ? `χ² p ${pv(t.pValue)}, LR ${g(dm[s].likelihoodRatio)}` : '—';
    }),
    both('  touch share π0', (s) => {
      const t = tp(s);
      return t ? `${g(t.touchShare)} ± ${g(t.touchShareStderr, 2)}` : '—';
    }),
    both('  tail κ (1/price)', (s) => {
      const t = tp(s);
      return t ? `${g(t.kappaTail)} ± ${g(t.kappaTailStderr, 2)}` : '—';
    }),
    both('  touch rate (1/s)', (s) => {
      const t = tp(s);
      return t ? `${g(t.touchRate)} ± ${g(t.touchRateStderr, 2)}` : '—';
    }),
    both('  quotes use', (s) => dm[s].use),
  ];
}

/** The drift D with its SE and what cj's defaults make of it, with a warning when it dominates. */
export function driftLines(r: CalibrationResult): string[] {
  const d = r.drift;
  if (!d) return [];
  const out = [
    `drift D = λ⁺ε⁺ − λ⁻ε⁻ = ${g(d.value)} ± ${g(d.stderr, 2)} price/s (z ${g(d.z, 2)}; observed mid drift ${g(d.observed, 2)} ± ${g(d.observedStderr, 2)}); shrink keeps ${(100 * d.shrinkFactor).toFixed(0)} % → ${d.shrunk === 0 ? '0' : g(d.shrunk)}`,
  ];
  const q = r.quoting;
  if (!q) return out;
  const target = Object.entries(q.settings.inventoryTarget)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(
    `cj defaults (${target}, q ±${q.settings.qMax}, fee ${q.settings.makerFee} at ${q.settings.mid}, drift ${q.settings.drift}, depth ${q.depthModel.plus}/${q.depthModel.minus}): φ ${g(q.phi)} (${q.phiStatus}; inventory RMS ${g(q.inventoryRms)} lots, at bounds ${g(100 * q.inventoryAtBounds, 2)} %)`,
    `  at q = 0: ask +${g(q.deltaPlusAtZero)} bid −${g(q.deltaMinusAtZero)}; skew from D used ${g(q.skewAtZero, 2)}, with drift: model ${g(q.skewAtZeroModel, 2)} (half-spread ${g(q.halfSpreadAtZero)})`,
  );
  if (q.dominates)
    out.push(
      `WARNING: the drift D dominates cj's quotes: skew at q = 0 of ${g(q.skewAtZero)} vs half-spread ${g(q.halfSpreadAtZero)} (more than half)`,
    );
  else if (q.dominatesWithModel)
    out.push(
      `WARNING: with drift: model, D would dominate the quotes (skew at q = 0 of ${g(q.skewAtZeroModel)} vs half-spread ${g(q.halfSpreadAtZero)}); drift: shrink keeps ${(100 * d.shrinkFactor).toFixed(0)} % of it`,
    );
  out.push(...regimeQuotingLines(r));
  return out;
}

/** cj with `signal: imbalance` at its defaults: φ on the joint law, per-regime drifts and their skew. */
export function regimeQuotingLines(r: CalibrationResult): string[] {
  const rq = r.quoting?.regimes;
  if (!rq) return [];
  const pct = (x: number) =>
    !Number.isFinite(x) ? '—' : x < 5e-5 ? '0.00 %' : `${(100 * x).toFixed(x < 0.1 ? 2 : 1)} %`;
  const out = [
    `cj signal: imbalance (same defaults; φ from the target on the joint (inventory, regime) law): φ ${g(rq.phi)} (${rq.phiStatus}; inventory RMS ${g(rq.inventoryRms)} lots, at bounds ${pct(rq.inventoryAtBounds)}); the pooled φ ${g(rq.pooledPhi)} would give RMS ${g(rq.inventoryRmsAtPooledPhi)}, at bounds ${pct(rq.inventoryAtBoundsAtPooledPhi)}`,
    `  ${'regime'.padEnd(8)}${'D_z ± SE (price/s)'.padEnd(22)}${'shrink →'.padEnd(12)}${'q = 0: ask / bid'.padEnd(20)}${'skew from D used (model)'.padEnd(26)}half-spread`,
  ];
  for (const z of rq.regimes)
    out.push(
      `  ${String(z.regime).padEnd(8)}${`${g(z.driftModel)} ± ${g(z.driftStderr, 2)}`.padEnd(22)}${g(z.driftUsed).padEnd(12)}${`+${g(z.deltaPlusAtZero)} / −${g(z.deltaMinusAtZero)}`.padEnd(20)}${`${g(z.skewAtZero)} (${g(z.skewAtZeroModel)})`.padEnd(26)}${g(z.halfSpreadAtZero)}`,
    );
  for (const z of rq.regimes) {
    if (z.dominates)
      out.push(
        `WARNING: in regime ${z.regime} the drift D_${z.regime} dominates cj's quotes: skew at q = 0 of ${g(z.skewAtZero)} vs half-spread ${g(z.halfSpreadAtZero)} (more than half)`,
      );
    else if (z.dominatesWithModel)
      out.push(
        `WARNING: in regime ${z.regime}, with drift: model, D_${z.regime} would dominate the quotes (skew at q = 0 of ${g(z.skewAtZeroModel)} vs half-spread ${g(z.halfSpreadAtZero)}); drift: shrink uses ${g(z.driftUsed)}`,
      );
  }
  return out;
}
