/**
 * Pruning: an epoch reports its running loss at checkpoints of the tape (CHECKPOINTS: every 10 %), and is
 * stopped at a checkpoint where it is already worse than a threshold computed from EARLIER BATCHES only (the
 * epochs of the current batch run in parallel, so using them would make the run depend on timing).
 * The thresholds of a batch are computed once, before it starts, and travel with each epoch (so a remote
 * worker prunes exactly as a local one).
 * - median (Optuna's MedianPruner): from the `startup`-th completed epoch on, and from checkpoint `warmup`
 *   on, stop when the running loss is above the median of the completed (feasible) epochs' running losses at
 *   the same checkpoint;
 * - asha (asynchronous successive halving, Li et al. 2020): rungs at checkpoints 1, η, η², … (×10 %); at a
 *   rung continue only when in the best 1/η of all earlier epochs' values at that rung (pruned ones included);
 * - none.
 */
import type { TrialStatus } from './samplers/types.ts';

export const PRUNERS = ['median', 'asha', 'none'] as const;
export type PrunerName = (typeof PRUNERS)[number];

/** Checkpoint fractions of the tape. */
export const CHECKPOINTS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export interface PruneSettings {
  /** Completed epochs needed before the median pruner acts (Optuna: 5). */
  startup: number;
  /** First checkpoint index at which the median pruner may stop an epoch (0 = 10 %). */
  warmup: number;
  /** ASHA reduction factor η. */
  eta: number;
}

export const DEFAULT_PRUNE: PruneSettings = { startup: 5, warmup: 2, eta: 3 };

/** --prune-warmup as a fraction of the tape (0.1 … 0.9, a checkpoint) ↔ the checkpoint index. */
export function warmupIndex(fraction: number): number | undefined {
  const k = Math.round(fraction * 10) - 1;
  return Math.abs((k + 1) / 10 - fraction) < 1e-9 && k >= 0 && k < CHECKPOINTS.length ? k : undefined;
}

/** What a pruner needs of an earlier epoch. */
export interface PruneHistory {
  status: TrialStatus;
  /** Running loss at each checkpoint reached (index = checkpoint). */
  checkpoints: readonly number[];
}

/** Per-checkpoint thresholds: stop when the running loss is > threshold (null = no test there). */
export type Thresholds = (number | null)[];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** ASHA rung checkpoint indices: η^k − 1 (1, η, η², … checkpoints of 10 %). */
export function ashaRungs(eta: number, count = CHECKPOINTS.length): number[] {
  const out: number[] = [];
  for (let r = 1; r - 1 < count; r *= eta) out.push(r - 1);
  return out;
}

/** The thresholds for the next batch, from the epochs of earlier batches (of the same fold). */
export function pruneThresholds(
  pruner: PrunerName,
  earlier: readonly PruneHistory[],
  settings: PruneSettings = DEFAULT_PRUNE,
  count = CHECKPOINTS.length,
): Thresholds | null {
  if (pruner === 'none') return null;
  const out: Thresholds = Array.from({ length: count }, () => null);
  if (pruner === 'median') {
    const done = earlier.filter((e) => e.status === 'ok');
    if (done.length < settings.startup) return out;
    for (let k = settings.warmup; k < count; k++) {
      const vals = done.map((e) => e.checkpoints[k]).filter((v) => v !== undefined && Number.isFinite(v));
      if (vals.length > 0) out[k] = median(vals);
    }
    return out;
  }
  for (const k of ashaRungs(settings.eta, count)) {
    const vals = earlier
      .filter((e) => e.status !== 'failed')
      .map((e) => e.checkpoints[k])
      .filter((v) => v !== undefined && Number.isFinite(v))
      .sort((a, b) => a - b);
    if (vals.length < settings.eta) continue; // too few to rank: everyone is promoted
    out[k] = vals[Math.ceil(vals.length / settings.eta) - 1];
  }
  return out;
}
