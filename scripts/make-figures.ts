/**
 * Regenerates the README's figures (docs/img/*.svg) from the code itself:
 *  - quotes.svg: optimal ask/bid depths per inventory level (examples/params.json; stationary and T−t = 60 s);
 *  - intensity-fit.svg: the Λ(δ) fit on the shared ETH recording (skipped when ../shared is absent).
 * Usage: node scripts/make-figures.ts
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calibrate } from '../src/calibration/calibrate.ts';
import { intensityChart } from '../src/calibration/report.ts';
import { readSource } from '../src/marketdata/source.ts';
import { solveQuotes } from '../src/model/solve.ts';
import type { ModelParams } from '../src/model/types.ts';
import { type ChartSeries, chartSvg } from '../src/report/svg.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', 'img');

const ex = JSON.parse(readFileSync(join(root, 'examples', 'params.json'), 'utf8'));
const p: ModelParams = {
  lambdaPlus: ex.lambdaPlus,
  lambdaMinus: ex.lambdaMinus,
  kappaPlus: ex.kappaPlus,
  kappaMinus: ex.kappaMinus,
  epsilonPlus: ex.epsilonPlus,
  epsilonMinus: ex.epsilonMinus,
  phi: ex.phi,
  alpha: ex.alpha,
  qMin: ex.qMin,
  qMax: ex.qMax,
  feePerFill: ex.fee * ex.mid,
};
const series: ChartSeries[] = [];
for (const [label, horizon, dashed] of [
  ['stationary', Number.POSITIVE_INFINITY, false],
  ['T−t = 5 s', 5, true],
] as const) {
  const t = solveQuotes(p, { horizon });
  const ask = [];
  const bid = [];
  for (let i = 0; i < t.h.length; i++) {
    const q = t.qMin + i;
    if (Number.isFinite(t.deltaPlus[i])) ask.push({ x: q, y: t.deltaPlus[i] });
    if (Number.isFinite(t.deltaMinus[i])) bid.push({ x: q, y: t.deltaMinus[i] });
  }
  series.push({ name: `ask depth δ⁺ (${label})`, points: ask, color: '#d62728', dashed });
  series.push({ name: `bid depth δ⁻ (${label})`, points: bid, color: '#1f77b4', dashed });
}
writeFileSync(
  join(out, 'quotes.svg'),
  chartSvg(series, {
    title: 'Optimal depths by inventory (examples/params.json)',
    xLabel: 'inventory q (lots)',
    yLabel: 'depth from mid (USD)',
    width: 760,
    height: 380,
  }),
);
console.log('wrote docs/img/quotes.svg');

const seed = resolve(root, '..', 'shared', 'data', 'hyperliquid', 'seed-collector');
if (existsSync(seed)) {
  const { events, gaps } = await readSource(seed, { coin: 'ETH' });
  const { result } = calibrate(events, gaps, { coin: 'ETH' });
  if (result) {
    writeFileSync(join(out, 'intensity-fit.svg'), intensityChart(result));
    console.log('wrote docs/img/intensity-fit.svg');
  }
} else {
  console.log(`skipped intensity-fit.svg: ${seed} not found`);
}
