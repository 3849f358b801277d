/**
 * The optimisation loop. Per fold (folds.ts), epochs run in batches of -j: the batch's parameters are proposed
 * from the finished epochs of the earlier batches only (sampler seeded by --seed, fold, batch) and its pruning
 * thresholds come from the earlier batches only, so the same --seed and -j give the same epochs wherever and
 * in whatever order they finish. Each epoch is written to the results file as it finishes; a resumed run
 * re-proposes the batch it was in (identically) and runs only the epochs missing from the file. After a fold's
 * epochs, its best epoch (lowest loss among feasible ones) is replayed on the train window (in-sample curve)
 * and on the held-back test window (out-of-sample).
 */
import type { StrategyName } from '../strategies/config.ts';
import type { EpochJob, EpochResult, EpochSetup } from './epoch.ts';
import type { Fold, TimeWindow } from './folds.ts';
import type { Executor } from './pool.ts';
import {
  DEFAULT_PRUNE,
  type PrunerName,
  type PruneSettings,
  pruneThresholds,
  type Thresholds,
} from './pruners.ts';
import { RandomSampler } from './samplers/random.ts';
import { TpeSampler } from './samplers/tpe/sampler.ts';
import type { Sampler, Trial } from './samplers/types.ts';
import { batchRng } from './seed.ts';
import type { Dimension, Params } from './space.ts';
import type { Evaluation, ResultsStore, StoredEpoch } from './store.ts';
import type { SharedTapeData } from './tape-source.ts';

export const SAMPLERS = ['tpe', 'random'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** Everything that determines a run's results (stored in the results file; a resume must match it). */
export interface RunSettings {
  version: number;
  strategy: StrategyName;
  coin: string;
  /** Absolute data path, and the --from/--to read window as given (null: the whole data). */
  data: string;
  from: number | null;
  to: number | null;
  /** The time range the folds split (first to last event of the read data). */
  range: TimeWindow;
  space: Dimension[];
  epochs: number;
  jobs: number;
  sampler: SamplerName;
  seed: number;
  prune: PrunerName;
  /** The pruner's settings (--prune-startup, --prune-warmup, --prune-eta). Absent (older files): the defaults. */
  pruneSettings?: PruneSettings;
  loss: string;
  minFills: number;
  train: number;
  walkForward: number | null;
  /**
   * Batches proposed before the earlier ones finish (--lag): batch b sees the results of batches ≤ b − 1 − lag
   * and the parameters of the later ones (as constant liars). Absent (older files): 0.
   */
  lag?: number;
  folds: Fold[];
  setup: EpochSetup;
}

/** The settings a resumed run must share with the stored one (everything but the epoch count). */
export function settingsMismatch(stored: RunSettings, now: RunSettings): string | null {
  const keys: (keyof RunSettings)[] = [
    'version',
    'strategy',
    'coin',
    'data',
    'from',
    'to',
    'space',
    'jobs',
    'sampler',
    'seed',
    'prune',
    'loss',
    'minFills',
    'train',
    'walkForward',
    'setup',
  ];
  for (const k of keys) if (JSON.stringify(stored[k]) !== JSON.stringify(now[k])) return k;
  if ((stored.lag ?? 0) !== (now.lag ?? 0)) return 'lag';
  if (
    JSON.stringify(stored.pruneSettings ?? DEFAULT_PRUNE) !==
    JSON.stringify(now.pruneSettings ?? DEFAULT_PRUNE)
  )
    return 'the pruner settings (--prune-startup, --prune-warmup, --prune-eta)';
  if (stored.folds.length > 1 && stored.epochs !== now.epochs)
    return 'epochs (fixed once a walk-forward run has started)';
  if (now.epochs < stored.epochs) return 'epochs (cannot shrink)';
  return null;
}

export function makeSampler(name: SamplerName): Sampler {
  return name === 'tpe' ? new TpeSampler() : new RandomSampler();
}

export interface HyperoptHooks {
  /** An epoch finished and was stored (not called for epochs already in the file). */
  onEpoch?: (e: StoredEpoch, fold: Fold) => void;
  /** A fold's best was evaluated. */
  onFold?: (fold: Fold, bestN: number | null) => void;
  /** Checked before each batch: true stops the run (Ctrl-C); finished epochs are already stored. */
  stop?: () => boolean;
}

/** Epoch number (1-based, global) of a fold's local epoch index. */
export function epochNumber(s: RunSettings, fold: number, local: number): number {
  return (fold - 1) * s.epochs + local + 1;
}

export function toTrial(e: StoredEpoch): Trial {
  const t: Trial = { n: e.n, params: e.params, status: e.status, loss: e.loss };
  if (e.status === 'pruned') {
    t.prunedStep = e.prunedStep ?? 0;
    t.prunedLoss = e.checkpoints[e.prunedStep ?? 0] ?? Number.POSITIVE_INFINITY;
  }
  return t;
}

/** The best epoch of a fold: lowest loss among feasible completed epochs, ties to the earlier epoch. */
export function bestOf(epochs: readonly StoredEpoch[]): StoredEpoch | undefined {
  let best: StoredEpoch | undefined;
  for (const e of epochs)
    if (e.status === 'ok' && e.loss !== null && (!best || e.loss < (best.loss as number))) best = e;
  return best;
}

function sameParams(a: Params, b: Params): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function changedParams(path: string, n: number): Error {
  return new Error(
    `results file ${path}: epoch ${n} was stored with other parameters than this version proposes; start a new --results file`,
  );
}

function failedResult(n: number, fold: number, error: string): EpochResult {
  return {
    n,
    fold,
    status: 'failed',
    loss: null,
    metrics: null,
    checkpoints: [],
    prunedStep: null,
    prunedAt: null,
    error,
    ms: 0,
  };
}

function evaluation(r: EpochResult): Evaluation {
  return { loss: r.loss, status: r.status, metrics: r.metrics, error: r.error, series: r.series ?? [] };
}

/** Where a run's wall time went (benchmarks, the summary line). */
export interface RunTiming {
  /** Epoch batches only (proposals, dispatch, epochs, writes), ms. */
  loopMs: number;
  /** Σ over batches of the longest epoch of the batch (the floor the batches could take), ms. */
  batchFloorMs: number;
  /**
   * Σ over batches of the largest epoch CPU time of the batch: jobs × this is the CPU the batches would take
   * if every epoch of a batch waited for the costliest (load-independent barrier cost:
   * epochCpuMs / (jobs × batchCpuFloorMs) is the share of the cores the batch barrier leaves busy), ms.
   */
  batchCpuFloorMs: number;
  /**
   * Thread slots without an epoch: Σ over the loop's wall time of (jobs − epochs in flight), ms. Over
   * jobs × loopMs it is the share the schedule left idle (a batch waiting for its slowest epoch; the last
   * batch's tail) — a ratio of wall times, so roughly independent of the machine's load.
   */
  slotIdleMs: number;
  /** Σ of all epoch durations (inside the workers), ms. */
  epochMs: number;
  /** Σ of the epochs' CPU time inside the workers, ms. */
  epochCpuMs: number;
  /** CPU time of the coordinating (main) thread during the batches: proposals, dispatch, writes, ms. */
  mainCpuMs: number;
  /** Epochs run now (not from the file). */
  epochs: number;
  /**
   * No batch barrier (random sampler, --prune none): epochs stream through the threads; the floors above are
   * then Σ epoch time / jobs.
   */
  pipelined?: boolean;
}

/** A RunTiming with every total at zero (runHyperopt adds to it). */
export function newRunTiming(): RunTiming {
  return {
    loopMs: 0,
    batchFloorMs: 0,
    batchCpuFloorMs: 0,
    slotIdleMs: 0,
    epochMs: 0,
    epochCpuMs: 0,
    mainCpuMs: 0,
    epochs: 0,
  };
}

/** Runs (or resumes) the whole search; returns 'done' or 'stopped'. */
export async function runHyperopt(
  s: RunSettings,
  runId: string,
  store: ResultsStore,
  executor: Executor,
  source: SharedTapeData,
  hooks: HyperoptHooks = {},
  timing: RunTiming = newRunTiming(),
): Promise<'done' | 'stopped'> {
  const sampler = makeSampler(s.sampler);
  const job = (
    fold: number,
    n: number,
    window: TimeWindow,
    params: Params,
    extra: Partial<EpochJob>,
  ): EpochJob => ({
    run: runId,
    n,
    fold,
    window,
    params,
    prune: null,
    checkpoints: s.prune !== 'none',
    setup: s.setup,
    source,
    ...extra,
  });
  const run = async (j: EpochJob): Promise<EpochResult> => {
    try {
      return await executor.run(j);
    } catch (e) {
      return failedResult(j.n, j.fold, `worker error: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  // How many batches may run ahead of the last complete one. 0: a barrier (batch b waits for every result of
  // b − 1); --lag 1: batch b waits for b − 2 only, proposed with b − 1's parameters as constant liars. With
  // proposals from parameters only and no pruning nothing waits for results at all: no barrier, and the
  // same proposals as with one.
  const lag = sampler.paramsOnly === true && s.prune === 'none' ? Number.POSITIVE_INFINITY : (s.lag ?? 0);
  timing.pipelined = lag > 0;
  // Without a barrier, keep the executor full (a local thread holds its next epoch while one runs, so it
  // never waits for this thread's turnaround); with one, a batch is all there is to run.
  const slots = lag > 0 ? Math.max(s.jobs, executor.capacity ?? s.jobs) : s.jobs;
  for (const fold of s.folds) {
    const batches = Math.ceil(s.epochs / s.jobs);
    // The fold's finished epochs, read once and appended to as epochs finish (never re-read per batch).
    const stored = store.epochs(fold.index);
    const have = new Map(stored.map((e) => [e.n, e]));
    const t0 = performance.now();
    const c0 = process.threadCpuUsage();
    /** Per batch: its parameter sets, and a promise settled when all its epochs are stored. */
    const proposed: Params[][] = [];
    const complete: Promise<void>[] = [];
    const inFlight = new Set<Promise<void>>();
    // Slot time without an epoch: (jobs − epochs in flight) integrated over the loop's wall time.
    let lastMark = t0;
    const mark = () => {
      const now = performance.now();
      timing.slotIdleMs += Math.max(0, s.jobs - inFlight.size) * (now - lastMark);
      lastMark = now;
    };
    let stopped = false;
    for (let b = 0; b < batches && !stopped; b++) {
      let thresholds: Thresholds | null = null;
      const locals: number[] = [];
      for (let l = b * s.jobs; l < Math.min(s.epochs, (b + 1) * s.jobs); l++) locals.push(l);
      const ns = locals.map((l) => epochNumber(s, fold.index, l));
      // The batches whose results this one sees; the later ones are pending (their parameters only).
      const seen = b - 1 - Math.min(lag, b);
      let params: Params[];
      if (ns.every((n) => have.has(n))) params = ns.map((n) => (have.get(n) as StoredEpoch).params);
      else {
        if (seen >= 0) await complete[seen];
        if (hooks.stop?.()) break;
        const earlier = stored.filter((e) => e.batch <= seen).sort((x, y) => x.n - y.n);
        const pending = proposed.slice(seen + 1, b).flat();
        params = sampler.suggest(
          s.space,
          earlier.map(toTrial),
          locals.length,
          batchRng(s.seed, fold.index, b),
          pending,
        );
        for (let i = 0; i < ns.length; i++) {
          const old = have.get(ns[i]);
          if (old && !sameParams(old.params, params[i])) throw changedParams(store.path, ns[i]);
        }
        thresholds = pruneThresholds(s.prune, earlier, s.pruneSettings ?? DEFAULT_PRUNE);
      }
      proposed.push(params);
      const tasks: Promise<void>[] = [];
      let longest = 0;
      let costliest = 0;
      for (let i = 0; i < ns.length; i++) {
        const n = ns[i];
        if (have.has(n)) continue;
        while (inFlight.size >= slots) await Promise.race(inFlight);
        if (hooks.stop?.()) {
          stopped = true;
          break;
        }
        const p = params[i];
        const task: Promise<void> = run(job(fold.index, n, fold.train, p, { prune: thresholds }))
          .then((r) => {
            longest = Math.max(longest, r.ms);
            costliest = Math.max(costliest, r.cpuMs ?? 0);
            timing.epochMs += r.ms;
            timing.epochCpuMs += r.cpuMs ?? 0;
            timing.epochs++;
            const e = store.addEpoch(r, b, p);
            if (e) {
              stored.push(e);
              have.set(n, e);
              hooks.onEpoch?.(e, fold);
            }
          })
          .finally(() => {
            mark();
            inFlight.delete(task);
          });
        mark();
        inFlight.add(task);
        tasks.push(task);
      }
      complete.push(
        Promise.all(tasks).then(() => {
          timing.batchFloorMs += longest;
          timing.batchCpuFloorMs += costliest;
        }),
      );
    }
    await Promise.all(complete);
    mark();
    timing.loopMs += performance.now() - t0;
    const cpu = process.threadCpuUsage(c0);
    timing.mainCpuMs += (cpu.user + cpu.system) / 1000;
    if (stopped || hooks.stop?.()) return 'stopped';
    if (store.folds().some((f) => f.fold === fold.index)) continue;
    if (hooks.stop?.()) return 'stopped';
    const best = bestOf(store.epochs(fold.index));
    let inSample: Evaluation | null = null;
    let outOfSample: Evaluation | null = null;
    if (best) {
      const evals = await Promise.all([
        run(job(fold.index, best.n, fold.train, best.params, { keepSeries: true, checkpoints: false })),
        fold.test
          ? run(job(fold.index, best.n, fold.test, best.params, { keepSeries: true, checkpoints: false }))
          : undefined,
      ]);
      inSample = evaluation(evals[0]);
      outOfSample = evals[1] ? evaluation(evals[1]) : null;
    }
    store.setFold({
      fold: fold.index,
      train: fold.train,
      test: fold.test,
      bestN: best?.n ?? null,
      inSample,
      outOfSample,
    });
    hooks.onFold?.(fold, best?.n ?? null);
  }
  return 'done';
}
