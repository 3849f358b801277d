/**
 * Deterministic client order ids in Hyperliquid's format ('0x' + 32 hex digits).
 * The id is the seed (16 hex digits) followed by a counter (16 hex digits): a backtest with the same seed
 * produces the same ids, so its output is byte-identical. Live sessions seed with something unique per
 * session (e.g. the start time in ms) so ids never repeat across restarts. Several markets of one session
 * share the session's 16 digits and add their own market digits (a longer prefix, a shorter counter), so their
 * ids never collide and a guard cancelling the session's prefix covers every market.
 */
export class CloidGenerator {
  private readonly prefix: string;
  private readonly counterDigits: number;
  private counter = 0;
  /** heads[k]: the prefix and the zeros that pad a k-digit counter (no padStart string per id). */
  private heads: string[] = [];

  /**
   * `seed`: a non-negative safe integer (its 16 hex digits are the prefix), or the prefix itself
   * ('0x' + 16 to 24 hex digits; live sessions: this trader's 8-digit tag + the session's 8 digits (+ the
   * market's 2 when several markets share the session), so a trader recognises its own orders on a shared
   * account by their first 10 characters).
   */
  constructor(seed: number | string = 0) {
    this.counterDigits = 16;
    if (typeof seed === 'string') {
      if (!/^0x[0-9a-f]{16,24}$/.test(seed)) {
        throw new Error(`cloid prefix: must be 0x + 16 to 24 lower-case hex digits, got ${seed}`);
      }
      this.prefix = seed;
      this.counterDigits = 34 - seed.length;
      this.heads = padHeads(this.prefix, this.counterDigits);
      return;
    }
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`cloid seed: must be a non-negative safe integer, got ${seed}`);
    }
    this.prefix = `0x${seed.toString(16).padStart(16, '0')}`;
    this.heads = padHeads(this.prefix, this.counterDigits);
  }

  next(): string {
    this.counter++;
    const hex = this.counter.toString(16);
    // = prefix + hex.padStart(counterDigits, '0') (a counter past its digits is appended whole, as padStart did).
    return (hex.length < this.counterDigits ? this.heads[hex.length] : this.prefix) + hex;
  }

  /** Number of ids handed out so far. */
  get issued(): number {
    return this.counter;
  }
}

function padHeads(prefix: string, digits: number): string[] {
  const heads: string[] = [];
  for (let k = 0; k < digits; k++) heads.push(prefix + '0'.repeat(digits - k));
  return heads;
}

const CLOID_RE = /^0x[0-9a-f]{32}$/;
export function isCloid(s: string): boolean {
  return CLOID_RE.test(s);
}
