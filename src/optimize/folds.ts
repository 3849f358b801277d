/**
 * The overfitting guard: which part of the time range each optimisation sees.
 * - `--train r` (default 0.7), no walk-forward: one fold, train = the first r of [from, to), test = the rest
 *   (r = 1: the whole range, no test);
 * - `--walk-forward K`: K rolling folds, each a train window of r followed by its test window of 1 − r, the
 *   test windows tiling the end of the range back to back (classic walk-forward): with L = (to − from) /
 *   (K + r/(1 − r)), fold k trains on [from + kL, from + kL + rL/(1 − r)) and tests on the next L.
 * Times are exchange-clock ms, rounded to whole ms.
 */
export interface TimeWindow {
  from: number;
  to: number;
}

export interface Fold {
  /** 1-based. */
  index: number;
  train: TimeWindow;
  test: TimeWindow | null;
}

export function makeFolds(range: TimeWindow, train: number, walkForward?: number): Fold[] {
  const span = range.to - range.from;
  if (!(span > 0)) throw new Error('the time range is empty');
  if (!(train > 0 && train <= 1)) throw new Error('--train must be in (0, 1]');
  const k = walkForward ?? 0;
  if (k <= 1) {
    if (train === 1) return [{ index: 1, train: { ...range }, test: null }];
    const cut = Math.round(range.from + train * span);
    return [{ index: 1, train: { from: range.from, to: cut }, test: { from: cut, to: range.to } }];
  }
  if (train === 1) throw new Error('--walk-forward needs a test window: --train must be < 1');
  const L = span / (k + train / (1 - train));
  const trainLen = (L * train) / (1 - train);
  const folds: Fold[] = [];
  for (let i = 0; i < k; i++) {
    const from = Math.round(range.from + i * L);
    const cut = Math.round(range.from + i * L + trainLen);
    const to = i === k - 1 ? range.to : Math.round(range.from + i * L + trainLen + L);
    folds.push({ index: i + 1, train: { from, to: cut }, test: { from: cut, to } });
  }
  return folds;
}
