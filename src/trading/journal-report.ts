/** Text renderings of the journal for `cjmm trade status` and `cjmm trade history`. */
import type { PnlAttributionFigures } from '../engine/attribution.ts';
import type { SpreadBoundBinding } from '../engine/types.ts';
import type { JournalEventRow, JournalStatus } from './journal.ts';
import { formatAttribution, formatBinding } from './status.ts';

const iso = (ms: number | null | undefined) =>
  typeof ms === 'number' && Number.isFinite(ms)
    ? new Date(ms).toISOString().replace('T', ' ').slice(0, 23)
    : '—';

export function formatStatus(s: JournalStatus): string {
  const out: string[] = [`journal ${s.path}`];
  const sess = s.lastSession?.data as Record<string, unknown> | undefined;
  if (sess) {
    const what =
      sess.event === 'stop'
        ? `stopped (${String(sess.reason ?? '')})`
        : `running or crashed (started, pid ${String(sess.pid ?? '?')})`;
    out.push(`last session: ${what} at ${iso(s.lastSession?.rxTime)}`);
  } else {
    out.push('last session: none');
  }
  if (s.positions.length === 0) out.push('position: flat (no fills journalled)');
  for (const p of s.positions) {
    out.push(
      `position ${p.coin}: ${p.position}${p.avgEntry !== null ? ` @ ${Number(p.avgEntry.toPrecision(10))}` : ''} (${p.fills} fills, realised P&L ${p.realised.toFixed(4)} USD, fees ${p.fees.toFixed(4)} USD, funding ${p.funding.toFixed(4)} USD, cash flow ${p.cash.toFixed(2)} USD, updated ${iso(p.updatedRx)})`,
    );
  }
  if (s.lastAdjustment) {
    out.push(`last adjustment (${iso(s.lastAdjustment.rxTime)}): ${JSON.stringify(s.lastAdjustment.data)}`);
  }
  // One row per coin when the process traded several; otherwise the last status row.
  const states =
    s.lastStates && s.lastStates.length > 1
      ? s.lastStates.map((x) => ({ label: `last status ${x.coin}`, rxTime: x.rxTime, data: x.data }))
      : [{ label: 'last status', rxTime: s.lastState?.rxTime, data: s.lastState?.data }];
  for (const { label, rxTime, data } of states) {
    const st = data as Record<string, unknown> | undefined;
    if (!st || typeof st.netPnl !== 'number') continue;
    out.push(
      `${label}: mid ${typeof st.mid === 'number' ? Number(st.mid.toPrecision(10)) : '—'}, net P&L ${st.netPnl.toFixed(2)} USD, state ${String(st.state ?? '—')} at ${iso(rxTime)}`,
    );
    if (st.pnlAttribution && typeof st.pnlAttribution === 'object')
      out.push(
        `  P&L attribution (USD${typeof st.pnlAttributionReference === 'string' && st.pnlAttributionReference !== 'mid' ? `, vs ${st.pnlAttributionReference}` : ''}): ${formatAttribution(st.pnlAttribution as PnlAttributionFigures, 4)}`,
      );
    if (st.spreadBoundBinding && typeof st.spreadBoundBinding === 'object')
      out.push(
        `  spread ${formatBinding(st.spreadBoundBinding as SpreadBoundBinding)} (bid/ask, share of quoted time)`,
      );
  }
  out.push(`open orders: ${s.openOrders.length}`);
  for (const o of s.openOrders)
    out.push(`  ${o.side} ${o.sz} @ ${o.px} ${o.state} cloid ${o.cloid}${o.oid ? ` oid ${o.oid}` : ''}`);
  out.push(
    s.lastParams
      ? `last params (${iso(s.lastParams.rxTime)}): ${JSON.stringify(s.lastParams.data)}`
      : 'last params: none',
  );
  out.push(
    s.lastRisk
      ? `last risk event (${iso(s.lastRisk.rxTime)}): ${JSON.stringify(s.lastRisk.data)}`
      : 'last risk event: none',
  );
  out.push(`journal size: ${(s.sizeBytes / 1e6).toFixed(2)} MB`);
  out.push(
    `entries: ${
      Object.entries(s.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  );
  return out.join('\n');
}

export function formatHistory(rows: JournalEventRow[]): string {
  if (rows.length === 0) return '(no entries)';
  return rows
    .map((r) => `${String(r.id).padStart(6)} ${iso(r.rxTime)} ${r.type.padEnd(7)} ${JSON.stringify(r.data)}`)
    .join('\n');
}
