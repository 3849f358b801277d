/**
 * The `cjmm calibrate --report` page: Λ(δ) fit, the one-tick depth model, the drift D and its effect on cj's
 * quotes, the imbalance-regime model (generator, per-regime parameters with SEs, cj's φ on it), the micro-price
 * adjustment by bucket, markout curve, parameters through time. Pure (returns HTML).
 */
import { htmlPage, htmlTable, type ReportSection } from '../report/html.ts';
import { type ChartPoint, type ChartSeries, chartSvg } from '../report/svg.ts';
import type { CalibrationResult, ParamKey, RegimeCalibration } from './types.ts';
import { PARAM_KEYS } from './types.ts';

const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));

/** Empirical reach-or-beyond rate per tick level with Poisson ±1 SE bars, and the fitted λ·exp(−κδ). */
export function intensitySeries(r: CalibrationResult): ChartSeries[] {
  const out: ChartSeries[] = [];
  const T = r.window.observedSec;
  const tick = r.spread.tick;
  const h0 = r.spread.meanHalfSpread;
  for (const side of ['plus', 'minus'] as const) {
    const hist = r.fit?.[side].histogram ?? [];
    const name = side === 'plus' ? 'buy MOs (ask side)' : 'sell MOs (bid side)';
    const pts: ChartPoint[] = [];
    let tail = hist.reduce((a, b) => a + b, 0);
    for (let k = 0; k < hist.length && tail > 0; k++) {
      const rate = tail / T;
      const se = Math.sqrt(tail) / T;
      pts.push({ x: h0 + k * tick, y: rate, yLo: rate - se, yHi: rate + se });
      tail -= hist[k];
    }
    out.push({ name: `${name}: data`, points: pts, mode: 'points' });
    const lambda = side === 'plus' ? r.lambdaPlus : r.lambdaMinus;
    const kappa = side === 'plus' ? r.kappaPlus : r.kappaMinus;
    const xMax = h0 + Math.max(1, hist.length) * tick;
    const line: ChartPoint[] = [];
    for (let i = 0; i <= 50; i++) {
      const x = (xMax * i) / 50;
      line.push({ x, y: lambda * Math.exp(-kappa * x) });
    }
    out.push({ name: `${name}: λ·exp(−κδ)`, points: line, mode: 'line', dashed: true });
  }
  // Pair colours: data and fit of one side share a colour.
  out[0].color = out[1].color = '#1f77b4';
  out[2].color = out[3].color = '#d62728';
  return out;
}

/** Λ(δ) on a log axis whose range follows the data points (the fitted line would otherwise span decades). */
export function intensityChart(r: CalibrationResult): string {
  const series = intensitySeries(r);
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const s of series)
    for (const p of s.points)
      if (s.mode === 'points' && p.y > 0) {
        lo = Math.min(lo, p.y);
        hi = Math.max(hi, p.yHi ?? p.y);
      }
  const range = Number.isFinite(lo) ? { yMin: lo / 2, yMax: hi * 1.5 } : {};
  return chartSvg(series, { logY: true, xLabel: 'depth δ from mid (price)', yLabel: 'Λ(δ) (1/s)', ...range });
}

export function markoutSeries(r: CalibrationResult): ChartSeries[] {
  return (['plus', 'minus'] as const).map((side) => ({
    name: side === 'plus' ? 'after buy MOs' : 'after sell MOs',
    mode: 'both' as const,
    points: r.markouts
      .filter((m) => m[side].n > 0)
      .map((m) => ({
        x: m.horizonSec,
        y: m[side].mean,
        yLo: m[side].mean - m[side].stderr,
        yHi: m[side].mean + m[side].stderr,
      })),
  }));
}

/**
 * One-tick book: the empirical rate of MOs reaching j ticks beyond the touch (±1 SE) per side, with the
 * exponential fit Λ0·q^j and the two-part fit (Λ0 at the touch, Λ0(1 − π0)r^{j−1} beyond).
 */
export function depthModelSeries(r: CalibrationResult): ChartSeries[] {
  const out: ChartSeries[] = [];
  const dm = r.depthModel;
  if (!dm) return out;
  const tick = r.spread.tick;
  const colors = { plus: '#1f77b4', minus: '#d62728' };
  for (const side of ['plus', 'minus'] as const) {
    const m = dm[side];
    const name = side === 'plus' ? 'buy MOs (ask side)' : 'sell MOs (bid side)';
    const x = (j: number) => tick / 2 + j * tick;
    const last = Math.max(1, m.levels.length - 1);
    out.push({
      name: `${name}: data`,
      mode: 'points',
      color: colors[side],
      points: m.levels.map((l) => ({
        x: x(l.ticks),
        y: l.rate,
        yLo: l.rate - l.stderr,
        yHi: l.rate + l.stderr,
      })),
    });
    const rate0 = m.n / m.seconds;
    if (m.exponential) {
      const q = Math.exp(-m.exponential.kappa * tick);
      out.push({
        name: `${name}: exponential`,
        mode: 'line',
        dashed: true,
        color: colors[side],
        points: Array.from({ length: last + 1 }, (_v, j) => ({ x: x(j), y: rate0 * q ** j })),
      });
    }
    const t = m.twoPart;
    if (t) {
      const rr = Math.exp(-t.kappaTail * tick);
      out.push({
        name: `${name}: two-part`,
        mode: 'both',
        color: colors[side],
        points: Array.from({ length: last + 1 }, (_v, j) => ({
          x: x(j),
          y: j === 0 ? t.touchRate : t.touchRate * (1 - t.touchShare) * rr ** (j - 1),
        })),
      });
    }
  }
  return out;
}

/** cj's stationary depths δ±(q) with the drift used (solid) and with the estimated D (dashed). */
function depthsChart(d: NonNullable<NonNullable<CalibrationResult['quoting']>['depths']>): string {
  const pts = (ys: (number | null)[]) =>
    ys.flatMap((y, k) => (y === null || !Number.isFinite(y) ? [] : [{ x: d.q[k], y }]));
  const series: ChartSeries[] = [
    { name: 'ask depth δ⁺, drift used', points: pts(d.used.plus), mode: 'both', color: '#1f77b4' },
    { name: 'bid depth δ⁻, drift used', points: pts(d.used.minus), mode: 'both', color: '#d62728' },
  ];
  if (d.model)
    series.push(
      { name: 'δ⁺, D as estimated', points: pts(d.model.plus), mode: 'line', dashed: true, color: '#1f77b4' },
      {
        name: 'δ⁻, D as estimated',
        points: pts(d.model.minus),
        mode: 'line',
        dashed: true,
        color: '#d62728',
      },
    );
  return chartSvg(series, { xLabel: 'inventory q (lots)', yLabel: 'depth from mid (price)' });
}

const cut = (g: RegimeCalibration, z: number) => {
  const c = [0, ...g.thresholds, 1];
  return `[${c[z].toFixed(2)}, ${c[z + 1].toFixed(2)})`;
};

/** The regime model: time shares, generator with SEs, per-regime parameters with SEs, cj's use of it. */
function regimeSections(r: CalibrationResult): ReportSection[] {
  const g = r.regimes!;
  const m = g.count;
  const pm = (v: number, se: number | undefined) =>
    se === undefined || !Number.isFinite(se) ? fmt(v) : `${fmt(v)} ± ${fmt(se)}`;
  const out: ReportSection[] = [];
  const regimeTable = htmlTable(
    [
      'regime',
      'imbalance I',
      'time share',
      'time (s)',
      ...Array.from({ length: m }, (_v, w) => `→ ${w} (1/s)`),
    ],
    Array.from({ length: m }, (_v, z) => [
      z,
      cut(g, z),
      `${(100 * g.occupancy[z]).toFixed(1)} %`,
      fmt(g.timeSec[z]),
      ...g.generator[z].map((c, w) =>
        w === z ? '—' : `${pm(c, g.generatorStderr[z][w])} (${g.transitions[z][w]})`,
      ),
    ]),
  );
  const keys = [
    ['lambdaPlus', 'λ⁺'],
    ['lambdaMinus', 'λ⁻'],
    ['kappaPlus', 'κ⁺'],
    ['kappaMinus', 'κ⁻'],
    ['epsilonPlus', 'ε⁺'],
    ['epsilonMinus', 'ε⁻'],
  ] as const;
  const rq = r.quoting?.regimes;
  const paramTable = htmlTable(
    ['regime', ...keys.map(([, l]) => l), 'MOs ⁺/⁻', 'D_z = λ⁺ε⁺ − λ⁻ε⁻', 'source'],
    g.params.map((p) => [
      p.regime,
      ...keys.map(([k]) => pm(p[k], p.stderr[k])),
      `${p.samples.mosPlus ?? '—'}/${p.samples.mosMinus ?? '—'}`,
      rq
        ? pm(rq.regimes[p.regime].driftModel, rq.regimes[p.regime].driftStderr)
        : fmt(p.lambdaPlus * p.epsilonPlus - p.lambdaMinus * p.epsilonMinus),
      p.source,
    ]),
  );
  // λ± and ε± by regime with ±1 SE.
  const bySide = (k: 'lambda' | 'epsilon'): ChartSeries[] =>
    (['Plus', 'Minus'] as const).map((side, j) => ({
      name: `${k === 'lambda' ? 'λ' : 'ε'}${side === 'Plus' ? '⁺ (buy MOs)' : '⁻ (sell MOs)'}`,
      mode: 'both' as const,
      color: j === 0 ? '#1f77b4' : '#d62728',
      points: g.params.map((p) => {
        const v = p[`${k}${side}`];
        const se = p.stderr[`${k}${side}`] ?? 0;
        return { x: p.regime, y: v, yLo: v - se, yHi: v + se };
      }),
    }));
  out.push({
    heading: 'Imbalance regimes (Cartea, Donnelly & Jaimungal 2018)',
    note: `Touch imbalance I = Q_bid/(Q_bid + Q_ask) cut into ${m} regimes (0 = ask-heavy … ${m - 1} = bid-heavy). Generator C (1/s, ± SE, transition counts in brackets): the maximum-likelihood rates of a continuously observed chain. Per regime, λ±, κ±, ε± (at the model markout horizon) from the MOs met in that regime, ± SE; 'pooled' marks a side with too few MOs (the pooled estimate stands in).${g.quality.flags.length > 0 ? ` Flags: ${g.quality.flags.join(', ')}.` : ''}`,
    html:
      regimeTable +
      paramTable +
      chartSvg(bySide('lambda'), { xLabel: 'regime', yLabel: 'λ (1/s)' }) +
      chartSvg(bySide('epsilon'), { xLabel: 'regime', yLabel: 'ε (price)' }),
  });
  if (rq) {
    const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 2 : 1)} %`;
    out.push({
      heading: 'cj with signal: imbalance on this regime model',
      note: `With the defaults (inventory target ${Object.entries(r.quoting!.settings.inventoryTarget)
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )}, drift shrink per regime), φ is solved so that the stationary law of the controlled (inventory, regime) chain meets the target: φ ${fmt(rq.phi)} (${rq.phiStatus}), inventory RMS ${fmt(rq.inventoryRms)} lots, at a bound ${pct(rq.inventoryAtBounds)} of the time. The pooled model's φ (${fmt(rq.pooledPhi)}) would give RMS ${fmt(rq.inventoryRmsAtPooledPhi)} lots and ${pct(rq.inventoryAtBoundsAtPooledPhi)} at a bound on this model. Per regime: its drift D_z, what shrink keeps, the depths at q = 0 and the skew the drifts cause there (D dominates when the skew exceeds half the half-spread).`,
      html: htmlTable(
        [
          'regime',
          'time share',
          'D_z ± SE',
          'shrink →',
          'ask δ⁺(0)',
          'bid δ⁻(0)',
          'skew from D used',
          'skew with D as estimated',
          'half-spread (no drift)',
          'D dominates: used / estimated',
          'at a bound',
        ],
        rq.regimes.map((z) => [
          z.regime,
          `${(100 * z.occupancy).toFixed(1)} %`,
          pm(z.driftModel, z.driftStderr),
          fmt(z.driftUsed),
          fmt(z.deltaPlusAtZero),
          fmt(z.deltaMinusAtZero),
          fmt(z.skewAtZero),
          fmt(z.skewAtZeroModel),
          fmt(z.halfSpreadAtZero),
          `${z.dominates} / ${z.dominatesWithModel}`,
          pct(rq.atBoundsByRegime[z.regime]),
        ]),
      ),
    });
  }
  return out;
}

/** Stoikov's micro-price adjustment G* by imbalance bucket (ticks), per spread, with the one-step G¹. */
function micropriceSection(r: CalibrationResult): ReportSection {
  const mp = r.microprice!;
  const tick = r.spread.tick;
  const n = mp.imbalanceBuckets;
  const mid = (b: number) => (b + 0.5) / n;
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];
  const series: ChartSeries[] = [];
  for (let s = 0; s < mp.spreadBuckets; s++) {
    const label = `spread ${s + 1}${s + 1 === mp.spreadBuckets ? '+' : ''} tick`;
    const color = colors[s % colors.length];
    const seen = (b: number) => mp.visits[s][b] > 0;
    series.push({
      name: `G* (micro-price − mid), ${label}`,
      mode: 'both',
      color,
      points: mp.adjustment[s].flatMap((v, b) => (seen(b) ? [{ x: mid(b), y: v / tick }] : [])),
    });
    series.push({
      name: `G¹ (next mid change), ${label}`,
      mode: 'line',
      dashed: true,
      color,
      points: mp.g1[s].flatMap((v, b) => (seen(b) ? [{ x: mid(b), y: v / tick }] : [])),
    });
  }
  const rows: (string | number)[][] = [];
  for (let b = 0; b < n; b++)
    rows.push([
      `[${(b / n).toFixed(2)}, ${((b + 1) / n).toFixed(2)})`,
      ...Array.from({ length: mp.spreadBuckets }, (_v, s) =>
        mp.visits[s][b] > 0
          ? `${(mp.adjustment[s][b] / tick).toFixed(2)} (G¹ ${(mp.g1[s][b] / tick).toFixed(2)}; ${mp.visits[s][b]})`
          : '—',
      ),
    ]);
  return {
    heading: 'Micro-price (Stoikov 2018)',
    note: `The micro-price adjustment G* = lim E[mid after the i-th mid change − mid | imbalance, spread], estimated by the paper's Markov chain on imbalance × spread buckets (symmetrised), in ticks: solid G*, dashed the one-step G¹. ${mp.transitions} transitions, ${mp.iterations} terms of the series${mp.converged ? '' : ' (NOT converged: the reference stays the mid)'}, ${mp.discardedMoves} mid jumps beyond the move cap discarded. Strategies with reference: microprice centre their quotes on mid + G*, clamped to the touch. Table: G* in ticks (G¹; transitions out of the state).`,
    html:
      chartSvg(series, { xLabel: 'imbalance I = Q_bid/(Q_bid + Q_ask)', yLabel: 'adjustment (ticks)' }) +
      htmlTable(
        [
          'imbalance bucket',
          ...Array.from(
            { length: mp.spreadBuckets },
            (_v, s) => `spread ${s + 1}${s + 1 === mp.spreadBuckets ? '+' : ''} tick`,
          ),
        ],
        rows,
      ),
  };
}

function through(history: CalibrationResult[], keys: [ParamKey, string][]): ChartSeries[] {
  return keys.map(([k, name]) => ({
    name,
    mode: 'line' as const,
    points: history.map((h) => ({ x: h.at, y: h[k], yLo: h[k] - h.stderr[k], yHi: h[k] + h.stderr[k] })),
  }));
}

export function calibrationReportHtml(r: CalibrationResult, history: CalibrationResult[] = []): string {
  const start = new Date(r.window.start).toISOString();
  const end = new Date(r.window.end).toISOString();
  const sections: ReportSection[] = [];
  sections.push({
    heading: 'Parameters',
    note: `Window ${start} → ${end}, ${r.window.observedSec.toFixed(0)} s observed (gaps excluded); tick ${r.spread.tick}; source ${r.source}; quality ${r.quality.ok ? 'ok' : 'NOT ok'}${r.quality.flags.length ? ` (${r.quality.flags.join(', ')})` : ''}.`,
    html: htmlTable(
      ['parameter', 'value', 'std. error'],
      PARAM_KEYS.map((k) => [k, fmt(r[k]), fmt(r.stderr[k])]),
    ),
  });
  sections.push({
    heading: 'Reach-or-beyond intensity Λ(δ)',
    note: 'Rate of MOs reaching depth δ from the mid or beyond, per tick level beyond the touch (±1 SE), with the maximum-likelihood fit λ·exp(−κδ). Log scale.',
    html: intensityChart(r),
  });
  if (r.fit) {
    sections.push({
      heading: 'Depth goodness of fit',
      html: htmlTable(
        ['side', 'MOs', 'χ²', 'df', 'p-value'],
        (['plus', 'minus'] as const).map((s) => [
          s,
          r.fit![s].histogram.reduce((a, b) => a + b, 0),
          fmt(r.fit![s].chi2),
          r.fit![s].df,
          fmt(r.fit![s].pValue),
        ]),
      ),
    });
  }
  const dm = r.depthModel;
  if (dm) {
    const cell = (v: number | undefined, se?: number) =>
      v === undefined ? '—' : se === undefined ? fmt(v) : `${fmt(v)} ± ${fmt(se)}`;
    sections.push({
      heading: 'Depth model of a one-tick book: exponential vs two-part',
      note: `MOs that met a one-tick spread (${dm.plus.seconds.toFixed(0)} s): rate reaching j ticks beyond the touch (±1 SE, log scale), the single exponential (dashed) and the two-part model (mass at the touch + exponential tail). The quotes use the two-part model on a side where the χ² test rejects the exponential (p < 0.001) and the two-part model has the lower AIC.`,
      html:
        chartSvg(depthModelSeries(r), {
          logY: true,
          xLabel: 'depth δ from mid (price)',
          yLabel: 'Λ(δ) (1/s)',
        }) +
        htmlTable(
          [
            'side',
            'MOs',
            'exp. κ',
            'exp. χ² p',
            'exp. AIC',
            'touch share π0',
            'tail κ',
            'touch rate',
            'two-part χ² p',
            'two-part AIC',
            'LR (p)',
            'quotes use',
          ],
          (['plus', 'minus'] as const).map((s) => {
            const m = dm[s];
            const e = m.exponential;
            const t = m.twoPart;
            return [
              s,
              m.n,
              cell(e?.kappa, e?.kappaStderr),
              cell(e?.pValue),
              cell(e?.aic),
              cell(t?.touchShare, t?.touchShareStderr),
              cell(t?.kappaTail, t?.kappaTailStderr),
              cell(t?.touchRate, t?.touchRateStderr),
              cell(t?.pValue),
              cell(t?.aic),
              `${fmt(m.likelihoodRatio)} (${fmt(m.lrPValue)})`,
              m.use,
            ];
          }),
        ),
    });
  }
  const d = r.drift;
  if (d) {
    const q = r.quoting;
    const rows: (string | number)[][] = [
      ['D = λ⁺ε⁺ − λ⁻ε⁻ (price/s)', `${fmt(d.value)} ± ${fmt(d.stderr)}`],
      ['z = D / SE', fmt(d.z)],
      ['share kept by drift: shrink, max(0, 1 − 1/z²)', fmt(d.shrinkFactor)],
      ['observed mid drift over the window (price/s)', `${fmt(d.observed)} ± ${fmt(d.observedStderr)}`],
    ];
    if (q) {
      rows.push(
        ['cj defaults: φ from the inventory target', `${fmt(q.phi)} (${q.phiStatus})`],
        ['skew at q = 0 from the drift used', fmt(q.skewAtZero)],
        ['skew at q = 0 with drift: model', fmt(q.skewAtZeroModel)],
        ['half-spread at q = 0 without drift', fmt(q.halfSpreadAtZero)],
        [
          'D dominates (skew > half the half-spread): used / model',
          `${q.dominates} / ${q.dominatesWithModel}`,
        ],
      );
    }
    sections.push({
      heading: 'Drift D',
      note: 'The model mid drift from adverse selection, with its delta-method standard error (the two ε share the drift correction: their covariance from the block jackknife enters). Its effect: the stationary depths of cj with its defaults by inventory, with the drift its `drift: shrink` policy uses and with D as estimated (`drift: model`).',
      html: htmlTable(['quantity', 'value'], rows) + (q?.depths ? depthsChart(q.depths) : ''),
    });
  }
  if (r.regimes) sections.push(...regimeSections(r));
  if (r.microprice) sections.push(micropriceSection(r));
  sections.push({
    heading: 'Markouts',
    note: `Mean signed mid move in the MO's direction (±1 SE) against the horizon ('next' = next quote update, plotted at 0 s). ε uses ${r.markoutHorizon ?? '1s'}.`,
    html:
      chartSvg(markoutSeries(r), { xLabel: 'horizon (s)', yLabel: 'markout (price)' }) +
      htmlTable(
        ['horizon', 'buy: mean', 'SE', 'n', 'sell: mean', 'SE', 'n'],
        r.markouts.map((m) => [
          m.horizon,
          fmt(m.plus.mean),
          fmt(m.plus.stderr),
          m.plus.n,
          fmt(m.minus.mean),
          fmt(m.minus.stderr),
          m.minus.n,
        ]),
      ),
  });
  if (history.length > 1) {
    const opts = { xTime: true, xLabel: 'exchange time (UTC)' };
    sections.push({
      heading: 'Parameters through time',
      note: `Rolling estimates (±1 SE), ${history.length} refreshes.`,
      html:
        chartSvg(
          through(history, [
            ['lambdaPlus', 'λ⁺'],
            ['lambdaMinus', 'λ⁻'],
          ]),
          { ...opts, yLabel: 'λ (1/s)' },
        ) +
        chartSvg(
          through(history, [
            ['kappaPlus', 'κ⁺'],
            ['kappaMinus', 'κ⁻'],
          ]),
          { ...opts, yLabel: 'κ (1/price)' },
        ) +
        chartSvg(
          through(history, [
            ['epsilonPlus', 'ε⁺'],
            ['epsilonMinus', 'ε⁻'],
          ]),
          { ...opts, yLabel: 'ε (price)' },
        ),
    });
  }
  return htmlPage(`cjmm calibration — ${r.coin}`, sections, `generated from ${start} → ${end}`);
}
