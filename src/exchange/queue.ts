/**
 * Queue position models. The recorded book never contains our orders, so where we stand in the queue at our
 * price has to be modelled. Each model keeps `queueAhead` (size in front of us at our price) per order:
 *
 * - conservative: on joining, queue ahead = the displayed size at our price; only trades at our price reduce
 *   it (a cancellation is assumed to come from behind us). The displayed size is an upper bound, so when it
 *   shrinks below our estimate we clamp to it (the orders ahead of us cannot exceed what is displayed).
 * - prob: as conservative, and a decrease of the displayed size that trades do not explain (a cancellation)
 *   is taken from in front of us with the power-law share f = x^n / (x^n + y^n), x = queue ahead,
 *   y = queue behind (hftbacktest's PowerProbQueueModel family; note hftbacktest's f is the share BEHIND,
 *   here f is the share AHEAD, so a larger queue ahead loses more of each cancellation). n = 2 by default.
 *
 * Fills themselves (trade size beyond the queue ahead, trades through our price, books through our price)
 * are decided in matching.ts; both models share that logic.
 */

export type QueueModelName = 'conservative' | 'prob';

/** The per-order state a queue model reads and writes. */
export interface QueueState {
  queueAhead: number;
  /** Displayed size at our price when last observed (NaN = never observed). */
  levelSize: number;
  /** Size traded at our price since the level was last observed (so a book decrease is not counted twice). */
  tradedSinceLevel: number;
}

export interface QueueModel {
  readonly name: QueueModelName;
  /** The displayed size at our price changed from state.levelSize to newSize. */
  onLevelChange(state: QueueState, newSize: number): void;
}

export class ConservativeQueue implements QueueModel {
  readonly name = 'conservative' as const;
  onLevelChange(state: QueueState, newSize: number): void {
    if (state.queueAhead > newSize) state.queueAhead = newSize;
    state.levelSize = newSize;
    state.tradedSinceLevel = 0;
  }
}

export class PowerProbQueue implements QueueModel {
  readonly name = 'prob' as const;
  readonly n: number;
  constructor(n = 2) {
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`queue power n must be a positive number; got ${n}`);
    this.n = n;
  }

  /** Share of a cancellation taken from in front of us. */
  shareAhead(ahead: number, behind: number): number {
    if (ahead <= 0) return 0;
    if (behind <= 0) return 1;
    const a = ahead ** this.n;
    const b = behind ** this.n;
    return a / (a + b);
  }

  onLevelChange(state: QueueState, newSize: number): void {
    const prev = state.levelSize;
    if (Number.isNaN(prev)) {
      if (state.queueAhead > newSize) state.queueAhead = newSize;
    } else {
      const cancelled = prev - newSize - state.tradedSinceLevel;
      if (cancelled > 0) {
        const ahead = state.queueAhead;
        const behind = Math.max(0, prev - state.tradedSinceLevel - ahead);
        state.queueAhead = Math.max(0, ahead - this.shareAhead(ahead, behind) * cancelled);
      }
      if (state.queueAhead > newSize) state.queueAhead = newSize;
    }
    state.levelSize = newSize;
    state.tradedSinceLevel = 0;
  }
}

export function createQueueModel(name: QueueModelName, n?: number): QueueModel {
  if (name === 'conservative') return new ConservativeQueue();
  if (name === 'prob') return new PowerProbQueue(n);
  throw new Error(`queue model must be 'conservative' or 'prob'; got '${String(name)}'`);
}
