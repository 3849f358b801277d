/**
 * The results file of a hyperopt run (node:sqlite, WAL): the run's settings, every epoch as it finishes
 * (parameters, status, loss, all metrics, running losses at the checkpoints, duration, fold) and each fold's
 * best with its out-of-sample evaluation. An epoch is written once (its number is the primary key), so a
 * retried queue job or a resumed run can never count it twice. Ctrl-C loses nothing that finished.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BacktestMetrics } from '../backtest/metrics.ts';
import type { EpochResult } from './epoch.ts';
import type { TimeWindow } from './folds.ts';
import type { TrialStatus } from './samplers/types.ts';
import type { Params } from './space.ts';

export const STORE_VERSION = 1;

export interface StoredEpoch {
  n: number;
  fold: number;
  batch: number;
  params: Params;
  status: TrialStatus;
  loss: number | null;
  metrics: BacktestMetrics | null;
  checkpoints: number[];
  prunedStep: number | null;
  prunedAt: number | null;
  error: string | null;
  ms: number;
  worker: string | null;
}

export interface Evaluation {
  loss: number | null;
  status: TrialStatus;
  metrics: BacktestMetrics | null;
  error: string | null;
  series: { t: number; pnl: number }[];
}

export interface StoredFold {
  fold: number;
  train: TimeWindow;
  test: TimeWindow | null;
  /** The best epoch's number (null: no feasible epoch). */
  bestN: number | null;
  inSample: Evaluation | null;
  outOfSample: Evaluation | null;
}

/** JSON with non-finite numbers kept (NaN running losses): encoded as strings. */
function enc(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
}
function dec<T>(s: string | null): T {
  if (s === null) return null as T;
  return JSON.parse(s, (_k, x) =>
    x === 'NaN'
      ? Number.NaN
      : x === 'Infinity'
        ? Number.POSITIVE_INFINITY
        : x === '-Infinity'
          ? Number.NEGATIVE_INFINITY
          : x,
  ) as T;
}

function toEpoch(r: Record<string, unknown>): StoredEpoch {
  return {
    n: Number(r.n),
    fold: Number(r.fold),
    batch: Number(r.batch),
    params: dec<Params>(r.params as string),
    status: r.status as TrialStatus,
    loss: r.loss === null ? null : Number(r.loss),
    metrics: dec<BacktestMetrics | null>(r.metrics as string | null),
    checkpoints: dec<number[]>(r.checkpoints as string),
    prunedStep: r.pruned_step === null ? null : Number(r.pruned_step),
    prunedAt: r.pruned_at === null ? null : Number(r.pruned_at),
    error: (r.error as string | null) ?? null,
    ms: Number(r.ms),
    worker: (r.worker as string | null) ?? null,
  };
}

export class ResultsStore {
  readonly path: string;
  private readonly db: DatabaseSync;

  constructor(path: string, opts: { readOnly?: boolean } = {}) {
    this.path = path;
    if (!opts.readOnly) mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path, { readOnly: opts.readOnly === true });
    if (opts.readOnly) return;
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS epochs (
        n INTEGER PRIMARY KEY, fold INTEGER NOT NULL, batch INTEGER NOT NULL, params TEXT NOT NULL,
        status TEXT NOT NULL, loss REAL, metrics TEXT, checkpoints TEXT NOT NULL, pruned_step INTEGER,
        pruned_at REAL, error TEXT, ms REAL NOT NULL, worker TEXT, finished_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS folds (
        fold INTEGER PRIMARY KEY, train TEXT NOT NULL, test TEXT, best_n INTEGER,
        in_sample TEXT, out_of_sample TEXT);
    `);
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row ? dec<T>(row.value) : undefined;
  }

  setMeta(key: string, value: unknown): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, enc(value));
  }

  private insertEpoch?: StatementSync;

  /**
   * Writes a finished epoch and returns it as stored (what `epoch(n)` reads back, without reading it);
   * null when that epoch number is already stored (never counted twice).
   */
  addEpoch(r: EpochResult, batch: number, params: Params): StoredEpoch | null {
    this.insertEpoch ??= this.db.prepare(
      `INSERT OR IGNORE INTO epochs (n, fold, batch, params, status, loss, metrics, checkpoints, pruned_step,
       pruned_at, error, ms, worker, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const row: Record<string, unknown> = {
      n: r.n,
      fold: r.fold,
      batch,
      params: enc(params),
      status: r.status,
      loss: r.loss,
      metrics: r.metrics ? enc(r.metrics) : null,
      checkpoints: enc(r.checkpoints),
      pruned_step: r.prunedStep,
      pruned_at: r.prunedAt,
      error: r.error,
      ms: r.ms,
      worker: r.worker ?? null,
    };
    const res = this.insertEpoch.run(
      row.n as number,
      row.fold as number,
      batch,
      row.params as string,
      row.status as string,
      row.loss as number | null,
      row.metrics as string | null,
      row.checkpoints as string,
      row.pruned_step as number | null,
      row.pruned_at as number | null,
      row.error as string | null,
      row.ms as number,
      row.worker as string | null,
      Date.now(),
    );
    return Number(res.changes) > 0 ? toEpoch(row) : null;
  }

  epochs(fold?: number): StoredEpoch[] {
    const rows = (
      fold === undefined
        ? this.db.prepare('SELECT * FROM epochs ORDER BY n').all()
        : this.db.prepare('SELECT * FROM epochs WHERE fold = ? ORDER BY n').all(fold)
    ) as Record<string, unknown>[];
    return rows.map(toEpoch);
  }

  epoch(n: number): StoredEpoch | undefined {
    const r = this.db.prepare('SELECT * FROM epochs WHERE n = ?').get(n) as
      | Record<string, unknown>
      | undefined;
    return r ? toEpoch(r) : undefined;
  }

  count(): number {
    return Number((this.db.prepare('SELECT count(*) AS c FROM epochs').get() as { c: number }).c);
  }

  setFold(f: StoredFold): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO folds (fold, train, test, best_n, in_sample, out_of_sample) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        f.fold,
        enc(f.train),
        f.test ? enc(f.test) : null,
        f.bestN,
        f.inSample ? enc(f.inSample) : null,
        f.outOfSample ? enc(f.outOfSample) : null,
      );
  }

  folds(): StoredFold[] {
    const rows = this.db.prepare('SELECT * FROM folds ORDER BY fold').all() as Record<string, unknown>[];
    return rows.map((r) => ({
      fold: Number(r.fold),
      train: dec<TimeWindow>(r.train as string),
      test: dec<TimeWindow | null>(r.test as string | null),
      bestN: r.best_n === null ? null : Number(r.best_n),
      inSample: dec<Evaluation | null>(r.in_sample as string | null),
      outOfSample: dec<Evaluation | null>(r.out_of_sample as string | null),
    }));
  }

  close(): void {
    this.db.close();
  }
}
