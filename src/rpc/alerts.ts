/**
 * Which happenings become alerts (the notifications webhooks and Telegram send, and the dashboard lists):
 * start/stop, a fills summary every N minutes, risk state changes, the kill switch, feed gaps, κε above a
 * threshold, calibration failures, operator controls. Pure: the core feeds it events and clock ticks; it
 * answers with alerts. Repeated alerts of one kind for one coin are held back for `cooldownSec`.
 */
import type { Alert } from './events.ts';
import type { CalibrationPoint, ControlAction, ControlSource, FillView, MarketState } from './port.ts';

export interface AlertSettings {
  /** Period of the fills summary (minutes); 0 = no summaries. */
  fillsSummaryMin: number;
  /** Alert when κε on either side rises above this; 0 = off. */
  kappaEpsilonMax: number;
  /** Least time between two alerts of the same kind for the same coin (feed gaps, κε, calibration). */
  cooldownSec: number;
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  fillsSummaryMin: 15,
  kappaEpsilonMax: 2,
  cooldownSec: 300,
};

type Draft = Omit<Alert, 'id' | 'time'>;

interface FillTally {
  fills: number;
  buys: number;
  sells: number;
  volume: number;
  fees: number;
  lastPosition: number;
}

const fmt = (x: number | null | undefined, d: number) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—';

export class AlertRules {
  readonly settings: AlertSettings;
  private readonly emit: (a: Alert) => void;
  private nextId = 1;
  private readonly lastAt = new Map<string, number>();
  private readonly keHigh = new Map<string, boolean>();
  private readonly calibOk = new Map<string, boolean>();
  private tally = new Map<string, FillTally>();
  private pnlAtSummary = new Map<string, number>();
  private summaryDueAt = Number.NaN;

  constructor(settings: Partial<AlertSettings>, emit: (a: Alert) => void) {
    this.settings = { ...DEFAULT_ALERT_SETTINGS, ...settings };
    this.emit = emit;
  }

  private raise(time: number, d: Draft, cooldownKey?: string): void {
    if (cooldownKey !== undefined) {
      const last = this.lastAt.get(cooldownKey);
      if (last !== undefined && time - last < this.settings.cooldownSec * 1000) return;
      this.lastAt.set(cooldownKey, time);
    }
    this.emit({ id: this.nextId++, time, ...d });
  }

  started(time: number, mode: string, coins: string[]): void {
    this.summaryDueAt = time + this.settings.fillsSummaryMin * 60_000;
    this.raise(time, {
      kind: 'start',
      severity: 'info',
      coin: null,
      message: `cjmm ${mode} started: ${coins.join(', ')}`,
      data: { mode, coins },
    });
  }

  stopped(time: number, reason: string): void {
    this.raise(time, {
      kind: 'stop',
      severity:
        reason === 'signal' || reason === 'duration' || reason.startsWith('stop') ? 'info' : 'warning',
      coin: null,
      message: `cjmm stopping (${reason}): quotes cancelled`,
      data: { reason },
    });
  }

  stateChanged(time: number, coin: string, from: MarketState, to: MarketState, reason: string): void {
    // Operator pauses are reported as controls, a stop by the stop alert; feed staleness as feed gaps.
    if (to === 'paused' || from === 'paused') return;
    if (to === 'halted' && reason === 'stopped') return;
    if (to === 'stale' || from === 'stale') {
      if (to === 'stale') {
        this.raise(
          time,
          {
            kind: 'feed-gap',
            severity: 'warning',
            coin,
            message: `${coin}: market data stale, quotes pulled${reason ? ` (${reason})` : ''}`,
            data: { event: 'stale', reason },
          },
          `feed-gap:${coin}`,
        );
      }
      return;
    }
    if (to === 'halted' && /drawdown/i.test(reason)) {
      this.raise(time, {
        kind: 'kill-switch',
        severity: 'critical',
        coin,
        message: `${coin}: KILL SWITCH — ${reason}; quoting halted, orders cancelled`,
        data: { from, to, reason },
      });
      return;
    }
    this.raise(time, {
      kind: 'risk-state',
      severity: to === 'halted' ? 'critical' : to === 'reducing' ? 'warning' : 'info',
      coin,
      message: `${coin}: risk state ${from} → ${to}${reason ? ` (${reason})` : ''}`,
      data: { from, to, reason },
    });
  }

  accountKillSwitch(time: number, reason: string): void {
    this.raise(time, {
      kind: 'kill-switch',
      severity: 'critical',
      coin: null,
      message: `ACCOUNT KILL SWITCH — ${reason}; every market halted`,
      data: { reason },
    });
  }

  feedGap(time: number, coin: string, detail: Record<string, unknown>): void {
    const start = Number(detail.start);
    const end = Number(detail.end);
    const sec =
      Number.isFinite(start) && Number.isFinite(end) ? ` of ${((end - start) / 1000).toFixed(1)} s` : '';
    this.raise(
      time,
      {
        kind: 'feed-gap',
        severity: 'warning',
        coin,
        message: `${coin}: feed gap${sec}${detail.reason ? ` (${String(detail.reason)})` : ''}; quotes pulled until data resumes`,
        data: detail,
      },
      `feed-gap:${coin}`,
    );
  }

  calibration(p: CalibrationPoint): void {
    const max = this.settings.kappaEpsilonMax;
    if (max > 0) {
      const ke = Math.max(
        p.kappaEpsilonPlus ?? Number.NEGATIVE_INFINITY,
        p.kappaEpsilonMinus ?? Number.NEGATIVE_INFINITY,
      );
      const high = ke > max;
      if (high && !this.keHigh.get(p.coin)) {
        this.raise(
          p.time,
          {
            kind: 'kappa-epsilon',
            severity: 'warning',
            coin: p.coin,
            message: `${p.coin}: toxic flow, κε+ ${fmt(p.kappaEpsilonPlus, 3)} κε- ${fmt(p.kappaEpsilonMinus, 3)} above ${max}`,
            data: {
              kappaEpsilonPlus: p.kappaEpsilonPlus,
              kappaEpsilonMinus: p.kappaEpsilonMinus,
              threshold: max,
            },
          },
          `kappa-epsilon:${p.coin}`,
        );
      }
      this.keHigh.set(p.coin, high);
    }
    const wasOk = this.calibOk.get(p.coin) ?? true;
    if (!p.ok && wasOk) {
      this.raise(
        p.time,
        {
          kind: 'calibration-failure',
          severity: 'warning',
          coin: p.coin,
          message: `${p.coin}: calibration failed quality checks (${p.source}${p.flags.length ? `: ${p.flags.join(', ')}` : ''}); using ${p.source === 'prior' ? 'the priors' : 'the last good set'}`,
          data: { source: p.source, flags: p.flags },
        },
        `calibration:${p.coin}`,
      );
    }
    this.calibOk.set(p.coin, p.ok);
  }

  paramsRejected(time: number, coin: string, detail: Record<string, unknown>): void {
    this.raise(
      time,
      {
        kind: 'calibration-failure',
        severity: 'warning',
        coin,
        message: `${coin}: the strategy refused a calibrated parameter set (kept the previous one)`,
        data: detail,
      },
      `calibration:${coin}`,
    );
  }

  control(time: number, coin: string | null, action: ControlAction, source: ControlSource): void {
    this.raise(time, {
      kind: 'control',
      severity: action === 'stop' ? 'warning' : 'info',
      coin,
      message: `${coin ?? 'all markets'}: ${action} (by ${source})`,
      data: { action, source },
    });
  }

  fill(f: FillView): void {
    const t = this.tally.get(f.coin) ?? { fills: 0, buys: 0, sells: 0, volume: 0, fees: 0, lastPosition: 0 };
    t.fills++;
    if (f.side === 'bid') t.buys++;
    else t.sells++;
    t.volume += f.px * f.sz;
    t.fees += f.fee;
    t.lastPosition = f.position;
    this.tally.set(f.coin, t);
  }

  /** Clock tick: sends the fills summary when due. `pnl` is the current total P&L per coin. */
  tick(time: number, pnl: Map<string, number>): void {
    const every = this.settings.fillsSummaryMin;
    if (!(every > 0) || !Number.isFinite(this.summaryDueAt) || time < this.summaryDueAt) return;
    this.summaryDueAt = time + every * 60_000;
    const lines: string[] = [];
    const per: Record<string, unknown>[] = [];
    for (const [coin, t] of [...this.tally].sort(([a], [b]) => a.localeCompare(b))) {
      const now = pnl.get(coin) ?? 0;
      const change = now - (this.pnlAtSummary.get(coin) ?? 0);
      lines.push(
        `${coin}: ${t.fills} fills (${t.buys} buys, ${t.sells} sells), ${fmt(t.volume, 2)} USD traded, fees ${fmt(t.fees, 4)}, P&L ${change >= 0 ? '+' : ''}${fmt(change, 2)} USD, position ${t.lastPosition}`,
      );
      per.push({ coin, ...t, pnlChange: change, pnl: now });
    }
    for (const [coin, v] of pnl) this.pnlAtSummary.set(coin, v);
    this.tally = new Map();
    if (per.length === 0) return; // nothing traded: no message
    this.raise(time, {
      kind: 'fills-summary',
      severity: 'info',
      coin: null,
      message: `fills in the last ${every} min — ${lines.join('; ')}`,
      data: { periodMin: every, markets: per },
    });
  }
}
