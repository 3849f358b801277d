/**
 * Deterministic client order ids in Hyperliquid's format ('0x' + 32 hex digits).
 * The id is the seed (16 hex digits) followed by a counter (16 hex digits): a backtest with the same seed
 * produces the same ids, so its output is byte-identical. Live sessions seed with something unique per
 * session (e.g. the start time in ms) so ids never repeat across restarts.
 */
export class CloidGenerator {
  private readonly prefix: string;
  private counter = 0;

  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`cloid seed: must be a non-negative safe integer, got ${seed}`);
    }
    this.prefix = `0x${seed.toString(16).padStart(16, '0')}`;
  }

  next(): string {
    this.counter++;
    return this.prefix + this.counter.toString(16).padStart(16, '0');
  }

  /** Number of ids handed out so far. */
  get issued(): number {
    return this.counter;
  }
}

const CLOID_RE = /^0x[0-9a-f]{32}$/;
export function isCloid(s: string): boolean {
  return CLOID_RE.test(s);
}
