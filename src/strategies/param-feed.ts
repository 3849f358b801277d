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

  constructor(opts: RollingCalibratorOptions) {
    this.calibrator = new RollingCalibrator(opts);
  }

  onEvent(ev: MarketEvent): CalibrationResult | undefined {
    this.calibrator.onEvent(ev);
    return this.calibrator.maybeRefresh(ev.exTime);
  }

  onGap(gap: Gap): void {
    this.calibrator.onGap(gap);
  }

  current(): CalibrationResult | undefined {
    return this.calibrator.current();
  }
}
