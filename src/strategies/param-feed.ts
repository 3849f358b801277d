/**
 * Where calibrated strategies get their parameters: every market event goes in, a new CalibrationResult
 * comes out whenever the rolling window was re-estimated. The default implementation wraps the rolling
 * calibrator (src/calibration/rolling.ts); tests can pass any other source.
 */
import { RollingCalibrator, type RollingCalibratorOptions } from '../calibration/rolling.ts';
import type { CalibrationResult } from '../calibration/types.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';

export interface ParamFeed {
  /** Consumes one market event (exchange clock); returns a new parameter set when one was made. */
  onEvent(ev: MarketEvent): CalibrationResult | undefined;
  onGap(gap: Gap): void;
  /** The latest parameter set, if any. */
  current(): CalibrationResult | undefined;
}

/** The rolling calibrator as a parameter feed: refreshes (at most every refreshMs of data time) on any event. */
export class RollingParamFeed implements ParamFeed {
  readonly calibrator: RollingCalibrator;
  /** The calibrator's options (plain data: another thread can build the same calibrator from them). */
  readonly options: RollingCalibratorOptions;
  /**
   * Another source of this feed's very results (the backtest's calibration thread, which runs the same
   * calibrator on the same events ahead of the replay); set before the first input, see `delegateTo`.
   */
  private delegate: ParamFeed | undefined;
  private inputs = 0;

  constructor(opts: RollingCalibratorOptions) {
    this.options = opts;
    this.calibrator = new RollingCalibrator(opts);
  }

  onEvent(ev: MarketEvent): CalibrationResult | undefined {
    const d = this.delegate;
    if (d !== undefined) return d.onEvent(ev);
    this.inputs++;
    this.calibrator.onEvent(ev);
    return this.calibrator.maybeRefresh(ev.exTime);
  }

  onGap(gap: Gap): void {
    const d = this.delegate;
    if (d !== undefined) d.onGap(gap);
    else {
      this.inputs++;
      this.calibrator.onGap(gap);
    }
  }

  current(): CalibrationResult | undefined {
    return this.delegate !== undefined ? this.delegate.current() : this.calibrator.current();
  }

  /** Whether nothing went in yet: the whole feed can still be computed elsewhere. */
  get fresh(): boolean {
    return this.inputs === 0 && this.delegate === undefined;
  }

  /**
   * From now on, `source` answers every call (it must compute exactly what this calibrator would); only
   * on a fresh feed. The backtest's calibration thread (src/backtest/calibration-thread.ts) uses it.
   */
  delegateTo(source: ParamFeed): void {
    if (!this.fresh) throw new Error('RollingParamFeed.delegateTo: the feed has already consumed input');
    this.delegate = source;
  }
}
