/** The `cjmm calibrate --report` page: Λ(δ) fit, markout curve, parameters through time. Pure (returns HTML). */
import { htmlPage, htmlTable, type ReportSection } from '../report/html.ts';
import { type ChartPoint, type ChartSeries, chartSvg } from '../report/svg.ts';
import type { CalibrationResult, ParamKey } from './types.ts';
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
