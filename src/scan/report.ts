/**
 * The scan's text table and self-contained HTML report (`cjmm scan --report`): the ranking, each coin's
 * expected P&L per hour against the maker fee (Hyperliquid's tiers and rebates marked), and the notes on what
 * could not be estimated.
 */
import { htmlPage, htmlTable } from '../report/html.ts';
import { type ChartSeries, chartSvg } from '../report/svg.ts';
import type { ScanCoin, ScanDetail, ScanOptions } from './scan.ts';

export interface ScanReport {
  source: string;
  options: ScanOptions;
  /** E.g. `tier 0` when the fee came from the schedule. */
  feeLabel?: string;
  /** Ranked, best first. */
  results: { row: ScanCoin; detail: ScanDetail }[];
  /** With --live: the sample's wall-clock span. */
  live?: { start: number; end: number };
}

const num = (x: number | null | undefined, d = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : Number(x.toPrecision(d)).toString();
const fix = (x: number | null | undefined, d: number) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d);
const pair = (a: number | null, b: number | null, d = 4) => (a === null ? '—' : `${num(a, d)}/${num(b, d)}`);
const bps = (f: number | null) => (f === null ? '—' : `${fix(f * 1e4, 2)} bps`);

function describeWindow(o: ScanOptions): string {
  return Number.isFinite(o.windowMs) ? `${o.windowMs / 60_000} min` : 'all';
}

export function scanHeader(r: ScanReport): string {
  const o = r.options;
  return `scan ${r.source}: ${r.results.length} coin${r.results.length === 1 ? '' : 's'}, window ${r.live ? `live sample ${Math.round((r.live.end - r.live.start) / 1000)} s` : describeWindow(o)}, markout ${o.markoutMs / 1000} s, maker fee ${fix(o.fees.maker * 1e4, 2)} bps${r.feeLabel ? ` (${r.feeLabel})` : ''}, lot ${o.lotSize !== undefined ? `${o.lotSize} coin units` : `$${o.notionalUsd}`}, φ ${o.phi !== undefined ? o.phi : `for √E[q²] ${o.inventoryTarget.stdLots ?? '–'} lots`}, q ±${o.qMax}, drift ${o.drift}`;
}

const COLUMNS = [
  '#',
  'coin',
  'spread (ticks)',
  '½spread / fee (bps)',
  'λ⁺/λ⁻ (1/s)',
  'κ⁺/κ⁻ (1/USD)',
  'ε⁺/ε⁻ (USD)',
  'κε',
  'touch queue',
  'E[P&L] USD/h',
  'break-even maker fee',
];

function cells(i: number, x: { row: ScanCoin; detail: ScanDetail }): string[] {
  const { row: r, detail: d } = x;
  return [
    String(i + 1),
    r.coin,
    fix(r.spreadTicks, 2),
    `${fix(d.halfSpreadBps, 2)} / ${fix(d.makerFeeBps, 2)}`,
    pair(r.lambdaPlus, r.lambdaMinus),
    pair(r.kappaPlus, r.kappaMinus),
    pair(r.epsilonPlus, r.epsilonMinus),
    fix(r.kappaEpsilon, 2),
    r.touchQueue === null
      ? '—'
      : `${num(r.touchQueue, 4)}${d.mid > 0 ? ` ($${Math.round(r.touchQueue * d.mid).toLocaleString('en-US')})` : ''}`,
    fix(r.expectedPnlPerHour, 3),
    bps(r.breakEvenMakerFee),
  ];
}

/** Per-coin notes: the drift, the policy's inventory and fills, the lot, what is missing. */
export function scanNotes(x: { row: ScanCoin; detail: ScanDetail }): string[] {
  const d = x.detail;
  const out: string[] = [];
  if (d.drift) {
    const z = d.drift.stderr > 0 ? d.drift.model / d.drift.stderr : Number.NaN;
    out.push(
      `drift D = λ⁺ε⁺ − λ⁻ε⁻ = ${num(d.drift.model)} ± ${num(d.drift.stderr, 2)} USD/s (z ${fix(z, 1)}), used ${num(d.drift.used)} (${d.drift.policy})`,
    );
  }
  if (x.row.expectedPnlPerHour !== null)
    out.push(
      `lot ${d.lot} ${d.coin} at mid ${d.mid}; φ ${num(d.phi?.value ?? null, 3)}${d.phi?.source === 'target' ? ' (solved for the inventory target)' : ''}; depth model ${d.depthModel?.plus}/${d.depthModel?.minus}; stationary policy: E[q] ${fix(d.meanInventory, 2)} lots, ${fix(d.fillsPerHour, 1)} fills/h, objective growth ${fix(d.growthPerHour, 3)} USD/h`,
    );
  out.push(
    `data: ${d.events.book} books, ${d.events.trade} trades, ${d.events.bbo} bbo; ${fix(d.window.observedSec, 0)} s observed${d.fracAtOneTick !== null ? `; one-tick spread ${fix(d.fracAtOneTick * 100, 1)}% of the time` : ''}`,
  );
  for (const m of d.missing) out.push(`not estimated: ${m}`);
  if (d.flags.length > 0) out.push(`calibration flags: ${d.flags.join(', ')}`);
  return out;
}

/** The text table (aligned columns) and the notes. */
export function formatScan(r: ScanReport): string {
  const rows = r.results.map((x, i) => cells(i, x));
  const widths = COLUMNS.map((h, k) => Math.max(h.length, ...rows.map((c) => c[k].length)));
  const line = (c: string[]) =>
    c
      .map((s, k) => (k <= 1 ? s.padEnd(widths[k]) : s.padStart(widths[k])))
      .join('  ')
      .trimEnd();
  const out = [scanHeader(r), line(COLUMNS), ...rows.map(line)];
  for (const x of r.results) {
    out.push(`${x.row.coin}:`);
    for (const n of scanNotes(x)) out.push(`  ${n}`);
  }
  return out.join('\n');
}

/** `--json`: exactly `{"coins": [...]}`, best first. */
export function scanJson(r: ScanReport): string {
  return JSON.stringify({ coins: r.results.map((x) => x.row) }, null, 2);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

export function scanHtml(r: ScanReport): string {
  const table = htmlTable(
    COLUMNS,
    r.results.map((x, i) => cells(i, x)),
  );
  const withCurve = r.results.filter((x) => x.detail.pnlAtFees.length > 0);
  const series: ChartSeries[] = withCurve.map((x, k) => ({
    name: x.row.coin,
    mode: 'both',
    color: COLORS[k % COLORS.length],
    points: x.detail.pnlAtFees.map((p) => ({ x: p.fee * 1e4, y: p.pnlPerHour })),
  }));
  if (withCurve.length > 0) {
    const xs = withCurve[0].detail.pnlAtFees.map((p) => p.fee * 1e4);
    series.push({
      name: 'zero',
      mode: 'line',
      color: '#999',
      dashed: true,
      points: [
        { x: Math.min(...xs), y: 0 },
        { x: Math.max(...xs), y: 0 },
      ],
    });
  }
  const chart =
    withCurve.length > 0
      ? chartSvg(series, {
          title: 'Expected P&L of the stationary CJ policy vs maker fee',
          xLabel: 'maker fee (bps; Hyperliquid tiers 0–4 and rebates 1–3)',
          yLabel: 'USD per hour',
          width: 900,
          height: 380,
        })
      : '<p class="note">No coin had the trades needed for the model.</p>';
  const notes = r.results
    .map(
      (x) =>
        `<h3>${x.row.coin}</h3><ul>${scanNotes(x)
          .map((n) => `<li>${n.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</li>`)
          .join('')}</ul>`,
    )
    .join('\n');
  return htmlPage(
    'cjmm scan: where market making can earn',
    [
      {
        heading: 'Ranking (best first)',
        note: 'Expected P&L per hour of the stationary Cartea–Jaimungal policy at the calibrated parameters, for the lot; break-even maker fee: the fee at which that expectation is zero (negative: a rebate).',
        html: table,
      },
      { heading: 'Expected P&L against the maker fee', html: chart },
      { heading: 'Notes per coin', html: notes },
    ],
    scanHeader(r),
  );
}
