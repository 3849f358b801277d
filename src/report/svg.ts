/**
 * Minimal self-contained SVG charts for HTML reports (no external assets, no scripts): line and scatter
 * series, log-scaled y, error bars, time or numeric x axis, legend. Pure string building.
 */

export interface ChartPoint {
  x: number;
  y: number;
  /** Error bar bounds (absolute y values). */
  yLo?: number;
  yHi?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** 'line' joins points, 'points' draws markers, 'both' does both. Default 'line'. */
  mode?: 'line' | 'points' | 'both';
  color?: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** x values are epoch ms: label the axis as UTC clock times. */
  xTime?: boolean;
  /** Force axis ranges. */
  yMin?: number;
  yMax?: number;
}

let chartSeq = 0;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** Round-number ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const e0 = Math.floor(Math.log10(lo));
  const e1 = Math.ceil(Math.log10(hi));
  const mults = e1 - e0 <= 2 ? [1, 2, 5] : [1];
  for (let e = e0; e <= e1; e++)
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(6)));
    }
  return out.length >= 2 ? out : [lo, hi];
}

function fmtNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

function fmtTime(ms: number, spanMs: number): string {
  const iso = new Date(ms).toISOString();
  return spanMs > 86_400_000 ? iso.slice(5, 16).replace('T', ' ') : iso.slice(11, spanMs > 600_000 ? 16 : 19);
}

/** An inline <svg> chart. Points with non-finite coordinates (or y ≤ 0 on a log axis) are skipped. */
export function chartSvg(series: ChartSeries[], opts: ChartOptions = {}): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 360;
  const m = { l: 70, r: 20, t: opts.title ? 34 : 14, b: 48 };
  const logY = opts.logY ?? false;
  const ok = (p: ChartPoint) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logY || p.y > 0);
  let xMin = Number.POSITIVE_INFINITY;
  let xMax = Number.NEGATIVE_INFINITY;
  let yMin = Number.POSITIVE_INFINITY;
  let yMax = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (const p of s.points) {
      if (!ok(p)) continue;
      xMin = Math.min(xMin, p.x);
      xMax = Math.max(xMax, p.x);
      for (const y of [p.y, p.yLo, p.yHi]) {
        if (y === undefined || !Number.isFinite(y) || (logY && y <= 0)) continue;
        yMin = Math.min(yMin, y);
        yMax = Math.max(yMax, y);
      }
    }
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  if (opts.title)
    parts.push(
      `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(opts.title)}</text>`,
    );
  if (!Number.isFinite(xMin)) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`);
    return parts.join('');
  }
  if (opts.yMin !== undefined) yMin = opts.yMin;
  if (opts.yMax !== undefined) yMax = opts.yMax;
  if (xMax === xMin) {
    xMin -= 1;
    xMax += 1;
  }
  if (yMax === yMin) {
    if (logY) {
      yMin /= 2;
      yMax *= 2;
    } else {
      yMin -= Math.abs(yMin) * 0.1 || 1;
      yMax += Math.abs(yMax) * 0.1 || 1;
    }
  } else if (!logY) {
    const pad = (yMax - yMin) * 0.05;
    yMin -= pad;
    yMax += pad;
  }
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const sx = (x: number) => m.l + ((x - xMin) / (xMax - xMin)) * pw;
  const ty = logY ? Math.log10 : (y: number) => y;
  const sy = (y: number) => m.t + ph - ((ty(y) - ty(yMin)) / (ty(yMax) - ty(yMin))) * ph;
  const f = (v: number) => v.toFixed(1);

  // Axes and grid.
  parts.push(`<g stroke="#ccc" stroke-width="0.5">`);
  const yt = logY ? logTicks(yMin, yMax) : niceTicks(yMin, yMax);
  for (const v of yt) parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f(sy(v))}" y2="${f(sy(v))}"/>`);
  const xt = niceTicks(xMin, xMax, opts.xTime ? 5 : 7);
  for (const v of xt) parts.push(`<line y1="${m.t}" y2="${m.t + ph}" x1="${f(sx(v))}" x2="${f(sx(v))}"/>`);
  parts.push('</g>');
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  for (const v of yt)
    parts.push(`<text x="${m.l - 6}" y="${f(sy(v) + 4)}" text-anchor="end">${escapeXml(fmtNum(v))}</text>`);
  for (const v of xt) {
    const label = opts.xTime ? fmtTime(v, xMax - xMin) : fmtNum(v);
    parts.push(`<text x="${f(sx(v))}" y="${m.t + ph + 16}" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  if (opts.xLabel)
    parts.push(
      `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel)
    parts.push(
      `<text x="14" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.t + ph / 2})">${escapeXml(opts.yLabel)}</text>`,
    );

  // Series (clipped to the plot area).
  const clipId = `plot${++chartSeq}`;
  parts.push(
    `<clipPath id="${clipId}"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath>`,
  );
  parts.push(`<g clip-path="url(#${clipId})">`);
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(ok);
    const mode = s.mode ?? 'line';
    for (const p of pts) {
      if (p.yLo === undefined || p.yHi === undefined) continue;
      const lo = logY && p.yLo <= 0 ? yMin : p.yLo;
      if (!Number.isFinite(lo) || !Number.isFinite(p.yHi)) continue;
      const x = f(sx(p.x));
      parts.push(
        `<path d="M${x} ${f(sy(lo))}V${f(sy(p.yHi))}M${f(sx(p.x) - 3)} ${f(sy(lo))}h6M${f(sx(p.x) - 3)} ${f(sy(p.yHi))}h6" stroke="${color}" fill="none"/>`,
      );
    }
    if (mode !== 'points' && pts.length > 1) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${f(sx(p.x))} ${f(sy(p.y))}`).join('');
      parts.push(
        `<path d="${d}" stroke="${color}" stroke-width="1.5" fill="none"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
    }
    if (mode !== 'line')
      for (const p of pts)
        parts.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="3" fill="${color}"/>`);
  });
  parts.push('</g>');

  // Legend.
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const y = m.t + 14 + i * 15;
    parts.push(
      `<rect x="${m.l + pw - 170}" y="${y - 8}" width="10" height="10" fill="${color}"/><text x="${m.l + pw - 155}" y="${y + 1}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
