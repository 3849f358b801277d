/**
 * The exchange-side dead-man's switch: `scheduleCancel(now + N s)` makes Hyperliquid cancel every resting order
 * of the account at that time unless it is pushed back; it is refreshed every N/3 s while trading, and unset on a
 * clean stop. Hyperliquid only allows it after enough traded volume ($1M): then it is logged once and trading goes
 * on without it — the trader's own guard process (src/trading/guard.ts) protects the quotes either way.
 */
import type { ExchangeClient } from '@nktkas/hyperliquid';
import type { Clock } from '../../../engine/types.ts';
import type { VenueLogger } from './context.ts';
import type { RateBudget } from './limits.ts';
import { errText } from './transport.ts';

export interface DeadMansSwitchOptions {
  exchange: Pick<ExchangeClient, 'scheduleCancel'>;
  budget: RateBudget;
  clock: Clock;
  log: VenueLogger;
  /** Horizon in seconds (0 disables). */
  sec: number;
  /** For the error when the exchange refuses the signer. */
  signerAddress: `0x${string}`;
  user: `0x${string}`;
}

export class DeadMansSwitch {
  private readonly o: DeadMansSwitchOptions;
  private timer: NodeJS.Timeout | undefined;
  /** Not available for this account (or disabled): nothing is sent any more. */
  private unavailable = false;
  private armed = false;

  constructor(o: DeadMansSwitchOptions) {
    this.o = o;
  }

  /**
   * Push the trigger time to now + N s. The first call (at start) starts the periodic refresh, and throws when
   * the exchange refuses our signer (e.g. an API wallet that is not approved) so that nothing is quoted.
   */
  async refresh(first: boolean): Promise<void> {
    const { sec, log } = this.o;
    if (sec <= 0 || this.unavailable) return;
    try {
      await this.o.exchange.scheduleCancel({ time: Date.now() + sec * 1000 });
      this.o.budget.consume(1, true, this.o.clock.now());
      this.armed = true;
    } catch (err) {
      const text = errText(err);
      if (/not eligible|volume|Cannot set scheduled cancel/i.test(text)) {
        // Hyperliquid only allows it after enough traded volume: log once and trade without it.
        this.unavailable = true;
        log.warn({ reason: text }, "dead-man's switch unavailable for this account; continuing without it");
        return;
      }
      if (first && /does not exist|not authorized|agent|wallet/i.test(text)) {
        throw new Error(
          `exchange refused the API wallet ${this.o.signerAddress} for ${this.o.user}: ${text}`,
        );
      }
      log.warn({ err: text }, "dead-man's switch refresh failed; will retry");
    }
    if (first && !this.timer && !this.unavailable) {
      this.timer = setInterval(() => void this.refresh(false), (sec * 1000) / 3);
      this.timer.unref();
    }
  }

  /**
   * For status lines: `armed` (the exchange accepted the last refresh), `unavailable` (the exchange refuses it
   * for this account, e.g. under $1M traded), `off` (deadMansSwitchSec 0), `pending` (not yet accepted).
   */
  get state(): 'armed' | 'unavailable' | 'off' | 'pending' {
    if (this.o.sec <= 0) return 'off';
    if (this.unavailable) return 'unavailable';
    return this.armed ? 'armed' : 'pending';
  }

  /** Stop refreshing (the trigger set last stays armed until `disarm`). */
  stopRefreshing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Unset the trigger: nothing rests any more, and a stale trigger would surprise the next session. */
  async disarm(): Promise<void> {
    if (!this.unavailable && this.o.sec > 0) await this.o.exchange.scheduleCancel().catch(() => {});
  }
}
