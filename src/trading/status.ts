/**
 * The periodic status line: mid (in the coin's own price precision), our quotes in bps from mid (signed),
 * inventory, P&L (and its attribution), κε per side, the age of the last calibration, the spread bounds'
 * binding shares when configured, and what the trader is doing about quotes: the risk state while a quote
 * rests, otherwise why none does (warming-up, stale, bound, paused, halted). Live sessions add the request
 * budget and the protections in force. Pure formatting of a snapshot the session takes.
 */
import type { PnlAttributionFigures } from '../engine/attribution.ts';
import type { SpreadBoundBinding } from '../engine/types.ts';
import { priceDecimals } from '../exchange/order-rules.ts';

export interface StatusSnapshot {
  at: number;
  mode: string;
  coin: string;
  mid: number;
  bidPx: number;
  askPx: number;
  position: number;
  lots: number;
  netPnl: number;
  fills: number;
  tradingState: string;
  stale: boolean;
  /** `quoting`, or why nothing is quoted (engine QuotingState). */
  quoting?: string;
  /** Why the market is HALTED (kill switch, operator pause or stop), shown after `not quoting: halted`. */
  haltReason?: string;
  /** The coin's size decimals (Hyperliquid: prices have at most 6 − szDecimals decimals, 5 significant figures). */
  szDecimals?: number;
  /** The strategy's diagnostics (model parameters, calibration time, …). */
  diagnostics: Record<string, unknown>;
  uptimeSec: number;
  http429?: number;
  /** Live: requests in a row the exchange has not answered (5xx, timeouts); shown while > 0. */
  exchangeUnanswered?: number;
  /** Live: what protects the resting quotes (guard process, exchange scheduleCancel). */
  protections?: string;
  /** Live: requests per USDC traded and the account's request budget (or THROTTLED). */
  requests?: string;
  /** Net P&L split into spread capture, adverse selection, inventory carry, fees, funding. */
  pnlAttribution?: PnlAttributionFigures;
  /** The price spread capture and adverse selection are measured against: the strategy's `reference`. */
  pnlAttributionReference?: string;
  /** With spread bounds configured: share of quoted time each bound was binding. */
  spreadBoundBinding?: SpreadBoundBinding;
}

const sgn = (x: number, d = 2) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '—');
const pc = (x: number) => `${Math.round(x * 100)}%`;

/** `spread +0.01 adv -0.20 carry -0.10 fees -0.17` (funding only when non-zero). */
export function formatAttribution(a: PnlAttributionFigures, d = 2): string {
  const parts = [
    `spread ${sgn(a.spreadCapture, d)}`,
    `adv ${sgn(a.adverseSelection, d)}`,
    `carry ${sgn(a.inventoryCarry, d)}`,
    `fees ${sgn(a.fees, d)}`,
  ];
  if (a.funding !== 0) parts.push(`funding ${sgn(a.funding, d)}`);
  return parts.join(' ');
}

/** `vs microprice: ` when the attribution's reference is not the mid (nothing for the mid). */
export function attributionPrefix(reference: string | undefined): string {
  return reference && reference !== 'mid' ? `vs ${reference}: ` : '';
}

/** `bounds min 12%/0% max 0%/3%` (bid/ask shares of quoted time). */
export function formatBinding(b: SpreadBoundBinding): string {
  return `bounds min ${pc(b.min.bid)}/${pc(b.min.ask)} max ${pc(b.max.bid)}/${pc(b.max.ask)}`;
}

const numOf = (d: Record<string, unknown>, ...keys: string[]): number => {
  for (const k of keys) {
    const v = d[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (v && typeof v === 'object') {
      // nested { params: { kappaPlus, ... } } shapes
      for (const kk of keys) {
        const w = (v as Record<string, unknown>)[kk];
        if (typeof w === 'number' && Number.isFinite(w)) return w;
      }
    }
  }
  return Number.NaN;
};

/** κ±ε± from a strategy's diagnostics (either given directly or as κ and ε). */
export function kappaEpsilon(d: Record<string, unknown>): { plus: number; minus: number } {
  const direct = { plus: numOf(d, 'kappaEpsilonPlus'), minus: numOf(d, 'kappaEpsilonMinus') };
  if (Number.isFinite(direct.plus) || Number.isFinite(direct.minus)) return direct;
  const src = (d.params && typeof d.params === 'object' ? d.params : d) as Record<string, unknown>;
  return {
    plus: numOf(src, 'kappaPlus') * numOf(src, 'epsilonPlus'),
    minus: numOf(src, 'kappaMinus') * numOf(src, 'epsilonMinus'),
  };
}

/** Seconds since the strategy's last calibration, NaN if it never calibrated (or does not say). */
export function calibrationAgeSec(d: Record<string, unknown>, now: number): number {
  const age = numOf(d, 'calibrationAgeSec');
  if (Number.isFinite(age)) return age;
  // Exchange-clock age, as the cj strategy reports it (immune to our clock's offset from the exchange's).
  const ageMs = numOf(d, 'calibrationAgeMs');
  if (Number.isFinite(ageMs)) return ageMs / 1000;
  const at = numOf(d, 'calibratedAt', 'calibrationAt', 'lastCalibrationAt', 'paramsAt');
  return Number.isFinite(at) ? (now - at) / 1000 : Number.NaN;
}

const f = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
const g = (x: number) =>
  !Number.isFinite(x) ? '—' : x === 0 ? '0' : Math.abs(x) < 1e-3 ? x.toExponential(1) : x.toPrecision(2);

/**
 * cj's inventory penalty and drift: `φ 6.4e-5 D 0 (est 0.028±0.068)`, with `D-DOMINATES` when the drift used
 * skews the quotes at q = 0 by more than half their half-spread. Empty for strategies without them.
 */
export function modelStatus(d: Record<string, unknown>): string {
  const phi = numOf(d, 'phi');
  if (!Number.isFinite(phi)) return '';
  const used = numOf(d, 'driftUsed');
  const est = numOf(d, 'driftModel');
  const se = numOf(d, 'driftStderr');
  const drift = Number.isFinite(used)
    ? ` D ${g(used)}${Number.isFinite(est) && est !== used ? ` (est ${g(est)}${Number.isFinite(se) ? `±${g(se)}` : ''})` : ''}`
    : '';
  // signal: imbalance: the regime tables' φ (solved on the joint inventory–regime law) quotes.
  const rphi = numOf(d, 'regimePhi');
  const regimes = Number.isFinite(rphi) && rphi !== phi ? ` (regimes φ ${g(rphi)})` : '';
  return `φ ${g(phi)}${regimes}${drift}${d.driftDominates === true ? ' D-DOMINATES' : ''}`;
}

/**
 * A price in the coin's own precision: the decimals Hyperliquid allows at that price (5 significant figures,
 * at most 6 − szDecimals decimals), one more when the value sits between two ticks (a mid between bid and
 * ask). `mid 0.1912` for a coin at 0.1912, `mid 3346.15` for ETH between 3346.1 and 3346.2.
 */
export function formatPrice(px: number, szDecimals: number | undefined): string {
  if (!Number.isFinite(px)) return '—';
  if (szDecimals === undefined) return px.toFixed(2);
  const dec = priceDecimals(Math.abs(px), szDecimals);
  const scaled = Math.abs(px) * 10 ** dec;
  const onGrid = Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled);
  return px.toFixed(onGrid ? dec : dec + 1);
}

/** A signed offset in bps: `-0.15bps`, `+3.74bps` (never `+-`). */
export function formatBps(bps: number): string {
  if (!Number.isFinite(bps)) return '—';
  const r = Number(bps.toFixed(2));
  return `${r < 0 ? '-' : '+'}${Math.abs(r).toFixed(2)}bps`;
}

/** The last field: the risk state while a quote rests, else why nothing is quoted. */
export function quotingField(
  s: Pick<StatusSnapshot, 'tradingState' | 'stale' | 'quoting' | 'haltReason'>,
): string {
  if (s.quoting === undefined) return s.tradingState + (s.stale ? ' STALE' : '');
  if (s.quoting === 'quoting') return s.tradingState;
  // A halt says why: the kill switch and an operator's pause (the API's "paused") both halt the engine.
  if (s.quoting === 'halted' && s.haltReason) return `not quoting: halted (${s.haltReason})`;
  return `not quoting: ${s.quoting}`;
}

export function formatStatusLine(s: StatusSnapshot): string {
  // Offsets from mid, signed: a bid below the mid is negative, an ask above it positive.
  const bidBps = ((s.bidPx - s.mid) / s.mid) * 1e4;
  const askBps = ((s.askPx - s.mid) / s.mid) * 1e4;
  const ke = kappaEpsilon(s.diagnostics);
  const age = calibrationAgeSec(s.diagnostics, s.at);
  const t = new Date(s.at).toISOString().slice(11, 19);
  const parts = [
    `${t} ${s.mode} ${s.coin}`,
    `mid ${formatPrice(s.mid, s.szDecimals)}`,
    `bid ${formatBps(bidBps)} ask ${formatBps(askBps)}`,
    `inv ${s.lots} lots (${f(s.position, 4)})`,
    `pnl ${s.netPnl >= 0 ? '+' : ''}${f(s.netPnl, 2)} USD${s.pnlAttribution ? ` (${attributionPrefix(s.pnlAttributionReference)}${formatAttribution(s.pnlAttribution)})` : ''}`,
    `fills ${s.fills}`,
    `κε+ ${f(ke.plus, 3)} κε- ${f(ke.minus, 3)}`,
    modelStatus(s.diagnostics),
    `calib ${Number.isFinite(age) ? `${age.toFixed(0)}s ago` : 'none'}`,
    quotingField(s),
  ].filter((x) => x !== '');
  if (s.spreadBoundBinding) parts.splice(parts.length - 1, 0, formatBinding(s.spreadBoundBinding));
  if (s.requests) parts.push(s.requests);
  if (s.protections) parts.push(`protect: ${s.protections}`);
  if (s.http429) parts.push(`429s ${s.http429}`);
  // The risk state can read ACTIVE while the exchange is not answering: say so next to it.
  if (s.exchangeUnanswered) parts.push(`EXCHANGE NOT ANSWERING (${s.exchangeUnanswered} in a row)`);
  return parts.join(' | ');
}
