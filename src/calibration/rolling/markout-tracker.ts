/**
 * The markout tracker: for every reported horizon and side, the window's markouts (signed mid move in the
 * direction of the MO, in quanta) as an add/remove histogram and as per-block sums for the jackknife; on
 * refresh, the robust mean corrected for the window's mid drift, with its block-jackknife standard error.
 */
import type { HorizonSpec } from '../markout.ts';
import { QuantizedSample } from '../markout.ts';
import type { MarkoutEstimate } from '../types.ts';
import type { JackknifeBlocks } from './jackknife.ts';
import type { MidDrift } from './mid-grid.ts';
import type { MoRec } from './mo-window.ts';
import type { WindowQuotes } from './window-quotes.ts';

export class MarkoutTracker {
  private readonly horizons: HorizonSpec[];
  private readonly quotes: WindowQuotes;
  private readonly blocks: JackknifeBlocks;
  private readonly samples: { plus: QuantizedSample; minus: QuantizedSample }[];
  private quantum = Number.NaN;

  constructor(horizons: HorizonSpec[], quotes: WindowQuotes, blocks: JackknifeBlocks) {
    this.horizons = horizons;
    this.quotes = quotes;
    this.blocks = blocks;
    this.samples = horizons.map(() => ({ plus: new QuantizedSample(), minus: new QuantizedSample() }));
  }

  /** The price grid's quantum (tick/2), set once the tick is known. */
  setQuantum(quantum: number): void {
    this.quantum = quantum;
  }

  /** Measures the markout of a depth-resolved MO at horizon j, when a usable mid exists there. */
  resolve(mo: MoRec, j: number): void {
    const h = this.horizons[j];
    const i = h.next ? this.quotes.nextMid(mo.t) : this.quotes.midAt(mo.t, mo.t + h.ms);
    if (i < 0) return;
    const after = Math.round(this.quotes.timeline.mid(i) / this.quantum);
    const signed = mo.plus ? after - mo.midQ : mo.midQ - after;
    mo.mk[j] = signed;
    this.blocks.markout(mo.t, j, mo.plus ? 0 : 1, signed, 1);
    this.sample(mo, j).add(signed);
  }

  /** Takes an evicted MO's markouts back out. */
  remove(mo: MoRec): void {
    for (let j = 0; j < this.horizons.length; j++) {
      if (Number.isNaN(mo.mk[j])) continue;
      this.sample(mo, j).remove(mo.mk[j]);
      this.blocks.markout(mo.t, j, mo.plus ? 0 : 1, mo.mk[j], -1);
    }
  }

  /**
   * Per horizon: robust mean markout per side (price) minus the mid drift over the horizon, with the
   * block-jackknife SE (or, with too few blocks, the sample SE combined with the drift's), and the two
   * sides' covariance (they share the drift correction).
   */
  estimates(d: MidDrift, gridSec: number): MarkoutEstimate[] {
    const out: MarkoutEstimate[] = [];
    for (let j = 0; j < this.horizons.length; j++) out.push(this.estimate(j, d, gridSec));
    return out;
  }

  /** The estimate at horizon j alone (the per-regime model needs only the model's horizon). */
  estimate(j: number, d: MidDrift, gridSec: number): MarkoutEstimate {
    const q = this.quantum;
    const h = this.horizons[j];
    const hSec = h.ms / 1000;
    const est = (sample: QuantizedSample, sign: number) => {
      const r = sample.robustMean(q);
      const mean = r.mean - sign * d.drift * hSec;
      const jack = this.blocks.markoutSe(j, sign > 0 ? 0 : 1, sign, hSec, gridSec) * q;
      const stderr = Number.isFinite(jack)
        ? jack
        : Math.sqrt(r.stderr * r.stderr + hSec * hSec * d.driftSe * d.driftSe);
      return { mean, stderr, n: r.n };
    };
    const jackCov = this.blocks.markoutCov(j, hSec, gridSec) * q * q;
    return {
      horizon: h.label,
      horizonSec: hSec,
      plus: est(this.samples[j].plus, 1),
      minus: est(this.samples[j].minus, -1),
      covariance: Number.isFinite(jackCov) ? jackCov : -hSec * hSec * d.driftSe * d.driftSe,
    };
  }

  private sample(mo: MoRec, j: number): QuantizedSample {
    return mo.plus ? this.samples[j].plus : this.samples[j].minus;
  }
}
