/**
 * The self-contained HTML report of a backtest (`cjmm backtest --report report.html`): a metrics table and
 * inline SVG charts — mid with our quotes and fills, inventory, P&L, and the strategy's parameters over
 * time. No scripts, no external assets; the same result gives the same bytes.
 */
import { niceTicks } from '../report/svg.ts';
import type { BacktestResult } from './run.ts';

interface Line {
  name: string;
  color: string;
  xs: number[];
  ys: number[];
  /** Draw as a step function (value holds until the next point). */
  step?: boolean;
}

interface Dots {
  name: string;
  color: string;
  xs: number[];
  ys: number[];
}

const W = 960;
const H = 260;
const PAD = { l: 70, r: 16, t: 24, b: 28 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2);
  return Number(x.toFixed(digits)).toString();
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** A line chart with optional dot overlays; x in epoch ms. Gaps (NaN) break the lines. */
export function svgChart(title: string, lines: Line[], dots: Dots[] = [], height = H): string {
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const s of [...lines, ...dots]) {
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i];
      const y = s.ys[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}">`,
  );
  parts.push(`<text x="${PAD.l}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`);
  if (!Number.isFinite(x0) || !Number.isFinite(y0)) {
    parts.push(`<text x="${W / 2}" y="${height / 2}" text-anchor="middle" fill="#888">no data</text></svg>`);
    return parts.join('');
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const iw = W - PAD.l - PAD.r;
  const ih = height - PAD.t - PAD.b;
  const sx = (x: number) => (PAD.l + ((x - x0) / (x1 - x0)) * iw).toFixed(1);
  const sy = (y: number) => (PAD.t + (1 - (y - y0) / (y1 - y0)) * ih).toFixed(1);
  parts.push(`<rect x="${PAD.l}" y="${PAD.t}" width="${iw}" height="${ih}" fill="none" stroke="#ccc"/>`);
  for (const y of niceTicks(y0, y1, 5)) {
    if (y < y0 || y > y1) continue;
    parts.push(
      `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>` +
        `<text x="${PAD.l - 4}" y="${sy(y)}" font-size="10" text-anchor="end" dominant-baseline="middle">${fmt(y, 6)}</text>`,
    );
  }
  for (let k = 0; k <= 4; k++) {
    const x = x0 + ((x1 - x0) * k) / 4;
    const anchor = k === 0 ? 'start' : k === 4 ? 'end' : 'middle';
    parts.push(
      `<text x="${sx(x)}" y="${height - 8}" font-size="10" text-anchor="${anchor}">${isoTime(x)}</text>`,
    );
  }
  for (const s of lines) {
    let d = '';
    let pen = false;
    let prevY = Number.NaN;
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i];
      const y = s.ys[i];
      if (!Number.isFinite(y) || !Number.isFinite(x)) {
        pen = false;
        continue;
      }
      if (!pen) d += `M${sx(x)} ${sy(y)}`;
      else if (s.step) d += `H${sx(x)}V${sy(y)}`;
      else d += `L${sx(x)} ${sy(y)}`;
      pen = true;
      prevY = y;
    }
    void prevY;
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.2"/>`);
  }
  for (const s of dots) {
    let d = '';
    for (let i = 0; i < s.xs.length; i++) {
      if (!Number.isFinite(s.ys[i])) continue;
      d += `<circle cx="${sx(s.xs[i])}" cy="${sy(s.ys[i])}" r="2.2"/>`;
    }
    if (d) parts.push(`<g fill="${s.color}">${d}</g>`);
  }
  // Legend right of the title.
  let lx = Math.max(PAD.l + 260, PAD.l + title.length * 7.5 + 24);
  for (const s of [...lines, ...dots]) {
    parts.push(
      `<rect x="${lx}" y="8" width="10" height="10" fill="${s.color}"/><text x="${lx + 14}" y="17" font-size="11">${esc(s.name)}</text>`,
    );
    lx += 24 + s.name.length * 6.5;
  }
  parts.push('</svg>');
  return parts.join('');
}

interface Layer {
  name: string;
  color: string;
  ys: number[];
}

/**
 * Stacked areas of signed contributions over time (x in epoch ms): at each x the positive values of the
 * layers stack upwards from 0 and the negative ones downwards, in layer order, so the top edge minus the bottom
 * edge's distance from 0 is the total; `total` is drawn as a line on top.
 */
export function svgStackedAreas(
  title: string,
  xs: number[],
  layers: Layer[],
  total: Line,
  height = H,
): string {
  const n = xs.length;
  const lo: number[][] = layers.map(() => new Array(n).fill(0));
  const hi: number[][] = layers.map(() => new Array(n).fill(0));
  let y0 = 0;
  let y1 = 0;
  for (let i = 0; i < n; i++) {
    let up = 0;
    let down = 0;
    for (let k = 0; k < layers.length; k++) {
      const v = layers[k].ys[i];
      const y = Number.isFinite(v) ? v : 0;
      if (y >= 0) {
        lo[k][i] = up;
        up += y;
        hi[k][i] = up;
      } else {
        hi[k][i] = down;
        down += y;
        lo[k][i] = down;
      }
    }
    if (up > y1) y1 = up;
    if (down < y0) y0 = down;
  }
  for (const y of total.ys) {
    if (Number.isFinite(y)) {
      if (y > y1) y1 = y;
      if (y < y0) y0 = y;
    }
  }
  // Reuse the line chart for frame, axes and legend: invisible guides at the extremes, then the areas.
  const frame = svgChart(
    title,
    [total, { name: '', color: 'none', xs: [xs[0] ?? 0, xs[n - 1] ?? 0], ys: [y0, y1] }],
    [],
    height,
  );
  if (n < 2) return frame;
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  for (const x of [...xs, ...total.xs]) {
    if (!Number.isFinite(x)) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  const ya = y0 - pad;
  const yb = y1 + pad;
  const iw = W - PAD.l - PAD.r;
  const ih = height - PAD.t - PAD.b;
  const sx = (x: number) => (PAD.l + ((x - x0) / (x1 - x0)) * iw).toFixed(1);
  const sy = (y: number) => (PAD.t + (1 - (y - ya) / (yb - ya)) * ih).toFixed(1);
  const areas: string[] = [];
  for (let k = 0; k < layers.length; k++) {
    let d = `M${sx(xs[0])} ${sy(hi[k][0])}`;
    for (let i = 1; i < n; i++) d += `L${sx(xs[i])} ${sy(hi[k][i])}`;
    for (let i = n - 1; i >= 0; i--) d += `L${sx(xs[i])} ${sy(lo[k][i])}`;
    areas.push(`<path d="${d}Z" fill="${layers[k].color}" fill-opacity="0.55" stroke="none"/>`);
  }
  // The layers' legend on a line of its own below the time axis.
  let lx = PAD.l;
  const legend = layers.map((l) => {
    const s = `<rect x="${lx}" y="${height + 2}" width="10" height="10" fill="${l.color}" fill-opacity="0.55"/><text x="${lx + 14}" y="${height + 11}" font-size="11">${esc(l.name)}</text>`;
    lx += 28 + l.name.length * 6.5;
    return s;
  });
  // Areas go under the total line: insert them before the frame's first line.
  const at = frame.indexOf('<path');
  const body = at >= 0 ? frame.slice(0, at) + areas.join('') + frame.slice(at) : frame;
  return body
    .replace(
      `height="${height}" viewBox="0 0 ${W} ${height}"`,
      `height="${height + 18}" viewBox="0 0 ${W} ${height + 18}"`,
    )
    .replace('</svg>', `${legend.join('')}</svg>`);
}

/** Every k-th element so at most `max` remain (keeps the last). */
function thin<T>(xs: T[], max: number): T[] {
  if (xs.length <= max) return xs;
  const k = Math.ceil(xs.length / max);
  const out: T[] = [];
  for (let i = 0; i < xs.length; i += k) out.push(xs[i]);
  if (out[out.length - 1] !== xs[xs.length - 1]) out.push(xs[xs.length - 1]);
  return out;
}

export function renderReport(r: BacktestResult): string {
  const m = r.metrics;
  const lot = r.settings.instrument.lotSize;
  const s = r.series;
  const t = s.map((p) => p.t);
  const bidFills = thin(
    r.fills.filter((f) => f.side === 'bid'),
    3000,
  );
  const askFills = thin(
    r.fills.filter((f) => f.side === 'ask'),
    3000,
  );
  const charts: string[] = [];
  charts.push(
    svgChart(
      'Mid, our quotes and fills',
      [
        { name: 'mid', color: '#555', xs: t, ys: s.map((p) => p.mid) },
        { name: 'our bid', color: '#2a7', xs: t, ys: s.map((p) => p.bid), step: true },
        { name: 'our ask', color: '#d44', xs: t, ys: s.map((p) => p.ask), step: true },
      ],
      [
        { name: 'bought', color: '#063', xs: bidFills.map((f) => f.t), ys: bidFills.map((f) => f.px) },
        { name: 'sold', color: '#900', xs: askFills.map((f) => f.t), ys: askFills.map((f) => f.px) },
      ],
      320,
    ),
  );
  charts.push(
    svgChart('Inventory (lots)', [
      { name: 'inventory', color: '#36c', xs: t, ys: s.map((p) => p.position / lot), step: true },
    ]),
  );
  charts.push(
    svgChart('P&L (USD, marked at mid)', [{ name: 'P&L', color: '#a50', xs: t, ys: s.map((p) => p.pnl) }]),
  );
  const att = (k: keyof BacktestResult['metrics']['pnlAttribution']) => s.map((p) => p.attribution[k]);
  charts.push(
    svgStackedAreas(
      `P&L attribution (USD, cumulative; reference ${r.settings.attribution.reference}, markout ${r.settings.attribution.markoutMs / 1000} s)`,
      t,
      [
        { name: 'spread capture', color: '#2a7', ys: att('spreadCapture') },
        { name: 'adverse selection', color: '#d44', ys: att('adverseSelection') },
        { name: 'inventory carry', color: '#36c', ys: att('inventoryCarry') },
        { name: 'fees / rebates', color: '#a60', ys: att('fees') },
        { name: 'funding', color: '#888', ys: att('funding') },
      ],
      { name: 'net P&L', color: '#000', xs: t, ys: s.map((p) => p.pnl) },
      300,
    ),
  );
  // Model parameters first (params.*, then derived figures); timestamps and the mid itself are not parameters.
  // cj's drift D and its effect (the skew at q = 0) and the regimes' φ come right after, on top of the 16.
  const effect = /^(driftModel|driftStderr|driftUsed|driftSkew|regimePhi|regimeInventoryRms)$/;
  const rank = (k: string) => (k.startsWith('params.') ? 0 : effect.test(k) ? 1 : 2);
  const all = [...new Set(r.params.flatMap((p) => Object.keys(p.values)))].filter(
    (k) => !/(At|AgeMs|Time)$|^mid$/.test(k) && r.params.some((p) => Math.abs(p.values[k] ?? 0) < 1e11),
  );
  const keys = all
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, 16 + all.filter((k) => effect.test(k)).length);
  for (const k of keys) {
    charts.push(
      svgChart(
        `Strategy parameter: ${k}`,
        [
          {
            name: k,
            color: '#639',
            xs: r.params.map((p) => p.t),
            ys: r.params.map((p) => p.values[k] ?? Number.NaN),
            step: true,
          },
        ],
        [],
        180,
      ),
    );
  }
  const rows: [string, string][] = [
    ['Net P&L (USD)', fmt(m.netPnl)],
    ['Gross spread capture (USD)', fmt(m.grossSpreadCapture)],
    ['Fees (USD)', fmt(m.fees)],
    ['Inventory P&L (USD)', fmt(m.inventoryPnl)],
    [
      'P&L attribution (USD)',
      `spread ${fmt(m.pnlAttribution.spreadCapture)}, adverse ${fmt(m.pnlAttribution.adverseSelection)}, carry ${fmt(m.pnlAttribution.inventoryCarry)}, fees ${fmt(m.pnlAttribution.fees)}, funding ${fmt(m.pnlAttribution.funding)}`,
    ],
    [
      'Break-even maker fee',
      m.breakEvenMakerFee === null
        ? '– (no maker fills)'
        : `${fmt(m.breakEvenMakerFee * 1e4, 3)} bps (this run ${fmt(r.settings.fees.maker * 1e4, 3)} bps)`,
    ],
    ...(m.spreadBoundBinding
      ? [
          [
            'Spread bounds binding (share of quoted time)',
            `min bid ${fmt(m.spreadBoundBinding.min.bid * 100, 2)}% ask ${fmt(m.spreadBoundBinding.min.ask * 100, 2)}%, max bid ${fmt(m.spreadBoundBinding.max.bid * 100, 2)}% ask ${fmt(m.spreadBoundBinding.max.ask * 100, 2)}%`,
          ] as [string, string],
        ]
      : []),
    ['Fills (maker / taker)', `${m.fills} (${m.makerFills} / ${m.takerFills})`],
    ['Quotes placed', String(m.quotesPlaced)],
    ['Fill rate per quote', fmt(m.fillRatePerQuote)],
    [
      'Requests per hour / per USDC traded',
      `${fmt(m.requestsPerHour)} / ${m.requestsPerUsdTraded === null ? '–' : fmt(m.requestsPerUsdTraded)}`,
    ],
    [
      'Inventory mean / std / max (lots)',
      `${fmt(m.inventory.mean)} / ${fmt(m.inventory.std)} / ${fmt(m.inventory.max)}`,
    ],
    [
      'Time at the bounds',
      m.timeAtBounds
        ? `${fmt(m.timeAtBounds.total * 100, 2)}% (±${m.timeAtBounds.boundLots} lots)`
        : 'no bound',
    ],
    ['Sharpe', `${fmt(m.sharpe, 2)} (${m.sharpeSampling})`],
    ['Max drawdown (USD)', fmt(m.maxDrawdown)],
    ...m.markouts.map((k): [string, string] => [
      `Markout ${k.horizon} (n=${k.n})`,
      `${fmt(k.meanMidMove, 5)} USD, ${fmt(k.meanMidMoveBps, 3)} bps`,
    ]),
    [
      'Quote uptime both / bid / ask',
      `${fmt(m.quoteUptime.both * 100, 2)}% / ${fmt(m.quoteUptime.bid * 100, 2)}% / ${fmt(m.quoteUptime.ask * 100, 2)}%`,
    ],
    ['Risk state at end', `${r.engine.riskState}${r.engine.riskReason ? ` (${r.engine.riskReason})` : ''}`],
  ];
  const settings = `${esc(r.coin)}, ${new Date(r.start).toISOString()} → ${new Date(r.end).toISOString()}, ${r.events.total} events; strategy ${esc(r.strategy)}; queue ${r.settings.queue}; latency ${esc(r.settings.latency)}; clock offset ${fmt(r.settings.clockOffsetMs, 1)} ms; fees maker ${r.settings.fees.maker}, taker ${r.settings.fees.taker}; lot ${lot}`;
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>cjmm backtest — ${esc(r.coin)} ${esc(r.strategy)}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td{padding:3px 10px;border-bottom:1px solid #eee}td:first-child{color:#555}svg{display:block;margin:16px 0}</style>',
    '</head><body>',
    `<h1>cjmm backtest: ${esc(r.coin)} / ${esc(r.strategy)}</h1>`,
    `<p>${settings}</p>`,
    `<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>`,
    ...charts,
    '</body></html>\n',
  ].join('\n');
}
