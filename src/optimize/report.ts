/**
 * The self-contained HTML report of a hyperopt run (`--report`): loss by epoch, each parameter against the
 * loss, the best parameters' in-sample vs out-of-sample P&L curves, parameter importances (importance.ts), and
 * the top 20 epochs. Inline SVG and CSS only (src/report).
 */
import { htmlPage, htmlTable, type ReportSection } from '../report/html.ts';
import { type ChartSeries, chartSvg } from '../report/svg.ts';
import type { RunSettings } from './hyperopt.ts';
import { importances } from './importance.ts';
import { describeLoss } from './losses.ts';
import { formatParams } from './output.ts';
import { type Dimension, describeDimension, internalBounds, toInternal } from './space.ts';
import type { StoredEpoch, StoredFold } from './store.ts';

const num = (x: number | null | undefined, d = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : Number(x.toFixed(d)).toString();

/** A parameter's value on [0, 1] of its search range (internal coordinate: log for :log ranges). */
export function unitValue(d: Dimension, v: number | string): number {
  if (d.type === 'categorical') return (toInternal(d, v) + 0.5) / (d.high + 1);
  const [lo, hi] = internalBounds(d);
  return Math.min(1, Math.max(0, (toInternal(d, v) - lo) / (hi - lo)));
}

/** Importance of each dimension for the loss of the feasible completed epochs (null: too few). */
export function parameterImportances(space: Dimension[], epochs: readonly StoredEpoch[]): number[] | null {
  const ok = epochs.filter((e) => e.status === 'ok' && e.loss !== null);
  if (ok.length < 8 || space.length === 0) return null;
  const X = ok.map((e) => space.map((d) => unitValue(d, e.params[d.name])));
  return importances(
    X,
    ok.map((e) => e.loss as number),
  );
}

export function renderHyperoptReport(
  s: RunSettings,
  epochs: readonly StoredEpoch[],
  folds: readonly StoredFold[],
): string {
  const sections: ReportSection[] = [];
  const c = { ok: 0, pruned: 0, infeasible: 0, failed: 0 };
  for (const e of epochs) c[e.status]++;
  const rows: (string | number)[][] = [];
  for (const f of folds) {
    const b = epochs.find((e) => e.n === f.bestN);
    rows.push([
      f.fold,
      b ? b.n : '–',
      b ? formatParams(b.params) : 'no feasible epoch',
      num(b?.loss),
      num(b?.metrics?.netPnl),
      String(b?.metrics?.fills ?? '–'),
      f.test ? num(f.outOfSample?.loss) : 'no test (--train 1)',
      f.test ? num(f.outOfSample?.metrics?.netPnl) : '–',
      f.test ? String(f.outOfSample?.metrics?.fills ?? '–') : '–',
    ]);
  }
  sections.push({
    heading: 'Best parameters: in-sample vs out-of-sample',
    note: `${s.coin} ${s.strategy}; loss ${describeLoss(s.loss)}; ${s.sampler} sampler, seed ${s.seed}, -j ${s.jobs}, prune ${s.prune}, min fills ${s.minFills}; space ${s.space.map(describeDimension).join(' ')}. ${epochs.length} epochs: ${c.ok} complete, ${c.pruned} pruned, ${c.infeasible} infeasible, ${c.failed} failed. In-sample = the train window the search optimised on; out-of-sample = the held-back test window that no epoch saw.`,
    html: htmlTable(
      [
        'fold',
        'epoch',
        'params',
        'IN loss',
        'IN net P&L',
        'IN fills',
        'OUT loss',
        'OUT net P&L',
        'OUT fills',
      ],
      rows,
    ),
  });

  const statusSeries = (status: StoredEpoch['status'], color: string, name: string): ChartSeries => ({
    name,
    mode: 'points',
    color,
    points: epochs
      .filter((e) => e.status === status && e.loss !== null)
      .map((e) => ({ x: e.n, y: e.loss as number })),
  });
  const bestSoFar: { x: number; y: number }[] = [];
  let b = Number.POSITIVE_INFINITY;
  let lastFold = 0;
  for (const e of epochs) {
    if (e.fold !== lastFold) {
      b = Number.POSITIVE_INFINITY;
      lastFold = e.fold;
    }
    if (e.status === 'ok' && e.loss !== null && e.loss < b) b = e.loss;
    if (Number.isFinite(b)) bestSoFar.push({ x: e.n, y: b });
  }
  sections.push({
    heading: 'Loss by epoch',
    note: 'Completed epochs (dots), infeasible ones (fewer fills than --min-fills), and the best so far in each fold (line). Pruned and failed epochs have no final loss.',
    html: chartSvg(
      [
        statusSeries('ok', '#1f77b4', 'complete'),
        statusSeries('infeasible', '#ff7f0e', 'infeasible'),
        { name: 'best so far', points: bestSoFar, color: '#2ca02c' },
      ],
      { xLabel: 'epoch', yLabel: 'loss' },
    ),
  });

  const ok = epochs.filter((e) => e.status === 'ok' && e.loss !== null);
  const scatters = s.space
    .map((d) => {
      const pts = ok.map((e) => {
        const v = e.params[d.name];
        const x = d.type === 'categorical' ? toInternal(d, v) : d.log ? Math.log10(Number(v)) : Number(v);
        return { x, y: e.loss as number };
      });
      const label =
        d.type === 'categorical'
          ? `${d.name} (${d.choices?.map((c, i) => `${i} = ${c}`).join(', ')})`
          : d.log
            ? `log10 ${d.name}`
            : d.name;
      return chartSvg([{ name: d.name, mode: 'points', points: pts }], {
        title: d.name,
        xLabel: label,
        yLabel: 'loss',
        width: 460,
        height: 280,
      });
    })
    .join('\n');
  sections.push({
    heading: 'Each parameter against the loss',
    note: 'Completed feasible epochs (all folds).',
    html: scatters,
  });

  const curves: string[] = [];
  for (const f of folds) {
    const series: ChartSeries[] = [];
    if (f.inSample?.series.length)
      series.push({
        name: 'in-sample (train)',
        points: f.inSample.series.map((p) => ({ x: p.t, y: p.pnl })),
        color: '#1f77b4',
      });
    if (f.outOfSample?.series.length)
      series.push({
        name: 'out-of-sample (test, from 0)',
        points: f.outOfSample.series.map((p) => ({ x: p.t, y: p.pnl })),
        color: '#d62728',
      });
    if (series.length > 0)
      curves.push(
        chartSvg(series, {
          title: `fold ${f.fold}: best epoch ${f.bestN}`,
          xTime: true,
          yLabel: 'P&L (USD)',
        }),
      );
  }
  sections.push({
    heading: 'Best parameters: P&L in-sample and out-of-sample',
    note: 'The best epoch of each fold replayed on its train window and on the held-back test window (each curve starts at 0).',
    html: curves.join('\n') || '<p>no feasible epoch</p>',
  });

  const imp = parameterImportances(s.space, epochs);
  sections.push({
    heading: 'Parameter importances',
    note: "Share of the loss's variance over the search space explained by each parameter alone (fANOVA main effects of a 64-tree random forest fitted to the completed feasible epochs; the rest is interactions and noise).",
    html: imp
      ? htmlTable(
          ['parameter', 'share of variance', ''],
          s.space
            .map((d, i) => ({ d, v: imp[i] }))
            .sort((a, b2) => b2.v - a.v)
            .map(({ d, v }) => [d.name, `${(v * 100).toFixed(1)}%`, '█'.repeat(Math.round(v * 40))]),
        )
      : '<p>too few completed feasible epochs (need 8)</p>',
  });

  const top = [...ok].sort((a, b2) => (a.loss as number) - (b2.loss as number) || a.n - b2.n).slice(0, 20);
  sections.push({
    heading: 'Top 20 epochs (in-sample)',
    html: htmlTable(
      ['rank', 'epoch', 'fold', 'loss', 'net P&L', 'fills', 'Sharpe', 'max DD', 'params'],
      top.map((e, i) => [
        i + 1,
        e.n,
        e.fold,
        num(e.loss),
        num(e.metrics?.netPnl),
        String(e.metrics?.fills ?? '–'),
        num(e.metrics?.sharpe, 2),
        num(e.metrics?.maxDrawdown),
        formatParams(e.params),
      ]),
    ),
  });
  return htmlPage(`cjmm hyperopt: ${s.coin} ${s.strategy}`, sections, `results of ${epochs.length} epochs`);
}
