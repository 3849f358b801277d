/** Plain-text renderings of the core's answers, for Telegram (and anything else that wants text). */

import type { ServiceCore } from '../rpc/core.ts';
import type { Alert } from '../rpc/events.ts';
import type { MarketSnapshot } from '../rpc/port.ts';

const f = (x: number | null | undefined, d: number) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—';
const s = (x: number | null | undefined, d: number) =>
  typeof x === 'number' && Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '—';
const p = (x: number | null | undefined) =>
  typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(8))) : '—';

export function statusText(core: ServiceCore): string {
  const st = core.status();
  const snaps = new Map(core.snapshots().map((m) => [m.coin, m]));
  const a = st.account;
  const lines = [
    `cjmm ${st.mode}, up ${formatUptime(st.uptimeSec)}`,
    `account: equity ${f(a.equity, 2)} USD, notional ${f(a.notional, 2)} USD, drawdown ${f(100 * a.drawdown, 2)}%, ${a.state.toUpperCase()}`,
  ];
  for (const m of st.markets) {
    const full = snaps.get(m.coin) as MarketSnapshot | undefined;
    lines.push(
      `${m.coin} ${m.state.toUpperCase()}${full?.reason ? ` (${full.reason})` : ''}: mid ${p(m.mid)}, bid ${p(m.bid)} ask ${p(m.ask)}, position ${m.position}, P&L ${s(m.pnl.total, 2)} USD`,
    );
  }
  return lines.join('\n');
}

export function pnlText(core: ServiceCore): string {
  const lines: string[] = [];
  let total = 0;
  for (const m of core.status().markets) {
    const parts = core.pnlParts(m.coin);
    total += m.pnl.total;
    lines.push(
      `${m.coin}: ${s(m.pnl.total, 2)} USD = realised ${s(m.pnl.realised, 2)} + unrealised ${s(m.pnl.unrealised, 2)} − fees ${f(m.pnl.fees, 4)}; spread ${s(parts.spreadCapture, 2)} adv ${s(parts.adverseSelection, 2)} carry ${s(parts.inventoryCarry, 2)} fees ${s(parts.fees, 2)}${parts.funding !== 0 ? ` funding ${s(parts.funding, 2)}` : ''}`,
    );
  }
  lines.unshift(`P&L ${s(total, 2)} USD`);
  return lines.join('\n');
}

export function paramsText(core: ServiceCore): string {
  const lines: string[] = [];
  for (const m of core.status().markets) {
    const q = m.params;
    const pm = (k: keyof typeof q.stderr, d: number) => `${f(q[k], d)}±${f(q.stderr[k], d)}`;
    lines.push(
      `${m.coin}: λ+ ${pm('lambdaPlus', 3)} λ- ${pm('lambdaMinus', 3)} /s; κ+ ${pm('kappaPlus', 2)} κ- ${pm('kappaMinus', 2)} /USD; ε+ ${pm('epsilonPlus', 4)} ε- ${pm('epsilonMinus', 4)} USD; σ ${f(q.sigma, 4)}; κε+ ${f(m.kappaEpsilon.plus, 3)} κε- ${f(m.kappaEpsilon.minus, 3)}`,
    );
  }
  return lines.join('\n') || 'no markets';
}

export function alertText(a: Alert): string {
  const icon = a.severity === 'critical' ? '🛑' : a.severity === 'warning' ? '⚠️' : 'ℹ️';
  return `${icon} ${a.message}`;
}

function formatUptime(sec: number): string {
  const t = Math.floor(sec);
  return `${Math.floor(t / 3600)}h ${Math.floor((t % 3600) / 60)}m ${t % 60}s`;
}
