/**
 * Tick-to-order: a book (or bbo) message received → the order it caused handed to the venue (paper: to the
 * simulated exchange; live: the signed action to the transport). Only sends in the same turn of the event loop
 * as the tick count: anything later was not caused by it.
 */
export class TickToOrderLatency {
  private tickAt = Number.NaN;
  private readonly samples: number[] = [];
  private clearScheduled = false;

  markTick(): void {
    this.tickAt = performance.now();
    // Anything sent after this turn of the event loop was not caused by this tick (one clear per turn).
    if (this.clearScheduled) return;
    this.clearScheduled = true;
    setImmediate(() => {
      this.clearScheduled = false;
      this.tickAt = Number.NaN;
    });
  }

  onSend(atMs: number): void {
    if (Number.isNaN(this.tickAt)) return;
    this.samples.push((atMs - this.tickAt) * 1000);
    this.tickAt = Number.NaN;
    if (this.samples.length > 100_000) this.samples.splice(0, 50_000);
  }

  /** The samples (µs), for merging several markets' figures. */
  samplesUs(): number[] {
    return [...this.samples];
  }

  summary(): LatencySummary {
    return summarizeUs(this.samples);
  }
}

export interface LatencySummary {
  samples: number;
  p50Us: number;
  p99Us: number;
}

export function summarizeUs(samples: readonly number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : Number.NaN);
  return { samples: s.length, p50Us: at(0.5), p99Us: at(0.99) };
}
