/**
 * Account-level risk over every market of one process, on top of each market's own: the total notional
 * (Σ |position| × mid; beyond the cap every market only reduces), the margin in use (live: the exchange's
 * clearinghouseState, margin used / account value; paper: Σ |position| × mid / max leverage over the account's
 * equity; beyond the cap, the same), and the account drawdown kill switch (the
 * account's equity — starting equity plus every market's P&L — this fraction below its peak: every market halts,
 * sticky until an operator resumes). Pure: the trader feeds it the markets and applies what it decides.
 */
import type { AccountRiskConfig } from './markets.ts';

export interface AccountMarket {
  coin: string;
  position: number;
  mid: number;
  netPnl: number;
  maxLeverage: number;
}

export interface AccountView {
  equity: number;
  peak: number;
  /** Fraction below the peak. */
  drawdown: number;
  notional: number;
  marginUse: number;
  /** halted: the kill switch fired; reducing: a notional or margin cap is exceeded. */
  state: 'active' | 'reducing' | 'halted';
  reason: string;
}

export class AccountRisk {
  readonly config: AccountRiskConfig;
  readonly startingEquity: number;
  private peak: number;
  private halted: string | undefined;

  constructor(config: AccountRiskConfig, startingEquity: number) {
    this.config = config;
    this.startingEquity = startingEquity;
    this.peak = startingEquity;
  }

  /**
   * The account now. `venue`: the margin the exchange reports (live), used instead of the paper estimate; it
   * covers every position of the account, ours or not.
   */
  evaluate(markets: AccountMarket[], venue?: { marginUsed: number; accountValue: number }): AccountView {
    let pnl = 0;
    let notional = 0;
    let margin = 0;
    for (const m of markets) {
      if (Number.isFinite(m.netPnl)) pnl += m.netPnl;
      if (m.mid > 0) {
        const n = Math.abs(m.position) * m.mid;
        notional += n;
        margin += n / Math.max(1, m.maxLeverage);
      }
    }
    const equity = this.startingEquity + pnl;
    if (equity > this.peak) this.peak = equity;
    const drawdown = this.peak > 0 ? Math.max(0, this.peak - equity) / this.peak : 0;
    const marginUse = venue
      ? venue.marginUsed / venue.accountValue
      : equity > 0
        ? margin / equity
        : Number.POSITIVE_INFINITY;
    const c = this.config;
    if (!this.halted && drawdown >= c.maxDrawdown) {
      this.halted = `account drawdown ${(100 * drawdown).toFixed(2)}% ≥ ${(100 * c.maxDrawdown).toFixed(2)}% of the peak ${this.peak.toFixed(2)} USD`;
    }
    let state: AccountView['state'] = 'active';
    let reason = '';
    if (this.halted) {
      state = 'halted';
      reason = this.halted;
    } else if (c.maxNotional > 0 && notional > c.maxNotional) {
      state = 'reducing';
      reason = `account notional ${notional.toFixed(2)} USD beyond ${c.maxNotional}`;
    } else if (marginUse > c.maxMarginUse) {
      state = 'reducing';
      reason = `margin use ${(100 * marginUse).toFixed(1)}% beyond ${(100 * c.maxMarginUse).toFixed(1)}%`;
    }
    return { equity, peak: this.peak, drawdown, notional, marginUse, state, reason };
  }

  /** An operator resume after the kill switch: the peak restarts from the current equity. */
  reset(equity: number): void {
    this.halted = undefined;
    this.peak = equity;
  }

  get isHalted(): boolean {
    return this.halted !== undefined;
  }
}
