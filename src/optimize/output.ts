/**
 * What a run shows: the `--json` document (keys exactly as documented), the text summary (which says which
 * figures are out-of-sample), the epoch tables of hyperopt-list / hyperopt-show, and the exported parameter
 * file (a `cjmm trade` config with a `backtest` section, which `cjmm backtest --config` reads too).
 */
import type { BacktestMetrics } from '../backtest/metrics.ts';
import { strategyBoundLots } from '../backtest/setup.ts';
import { parseStrategyConfig } from '../strategies/config.ts';
import { bestOf, type RunSettings } from './hyperopt.ts';
import { describeLoss } from './losses.ts';
import { applyParams, describeDimension, type Params } from './space.ts';
import type { Evaluation, StoredEpoch, StoredFold } from './store.ts';

export interface BestJson {
  params: Params;
  loss: number;
  metrics: BacktestMetrics | null;
  outOfSample: { loss: number | null; metrics: BacktestMetrics | null } | null;
}

export interface HyperoptJson {
  best: BestJson | null;
  folds: {
    train: { from: number; to: number };
    test: { from: number; to: number } | null;
    best: BestJson | null;
  }[];
  epochs: {
    n: number;
    params: Params;
    loss: number | null;
    metrics: BacktestMetrics | null;
    fold: number;
    ms: number;
  }[];
}

function bestJson(f: StoredFold, epochs: readonly StoredEpoch[]): BestJson | null {
  const e = f.bestN === null ? undefined : epochs.find((x) => x.n === f.bestN);
  if (!e || e.loss === null) return null;
  return {
    params: e.params,
    loss: e.loss,
    metrics: e.metrics,
    outOfSample: f.outOfSample ? { loss: f.outOfSample.loss, metrics: f.outOfSample.metrics } : null,
  };
}

/**
 * `--json`: { best, folds, epochs }. `best` is the last fold's best (with walk-forward: the parameters fitted on
 * the most recent window); an epoch's `loss` is null when it was pruned, infeasible (< --min-fills) or its loss
 * failed (`hyperopt-list --json` has each epoch's status).
 */
export function hyperoptJson(epochs: readonly StoredEpoch[], folds: readonly StoredFold[]): HyperoptJson {
  const fs = folds.map((f) => ({
    train: { ...f.train },
    test: f.test ? { ...f.test } : null,
    best: bestJson(f, epochs),
  }));
  return {
    best: fs.length > 0 ? fs[fs.length - 1].best : null,
    folds: fs,
    epochs: epochs.map((e) => ({
      n: e.n,
      params: e.params,
      loss: e.status === 'ok' ? e.loss : null,
      metrics: e.metrics,
      fold: e.fold,
      ms: e.ms,
    })),
  };
}

const num = (x: number | null | undefined, d = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : Number(x.toFixed(d)).toString();
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const pct = (x: number | undefined) => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

export function formatParams(p: Params): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(6)) : v}`)
    .join(' ');
}

function metricsLine(m: BacktestMetrics | null): string {
  if (!m) return 'no metrics';
  return `net P&L ${num(m.netPnl)} USD, fills ${m.fills}, Sharpe ${num(m.sharpe, 2)}, max DD ${num(m.maxDrawdown)} USD, time at bounds ${pct(m.timeAtBounds?.total)}, ${num(m.durationSec, 0)} s`;
}

function evalLine(label: string, e: Evaluation | null): string {
  if (!e) return `  ${label}: none`;
  const status = e.status === 'ok' ? '' : ` [${e.status}${e.error ? `: ${e.error}` : ''}]`;
  return `  ${label}: loss ${num(e.loss)}${status}; ${metricsLine(e.metrics)}`;
}

function counts(epochs: readonly StoredEpoch[]): string {
  const c = { ok: 0, pruned: 0, infeasible: 0, failed: 0 };
  for (const e of epochs) c[e.status]++;
  return `${epochs.length} epochs: ${c.ok} complete, ${c.pruned} pruned, ${c.infeasible} infeasible (< min fills), ${c.failed} failed`;
}

/** The text summary of a finished (or interrupted) run. */
export function formatSummary(
  s: RunSettings,
  epochs: readonly StoredEpoch[],
  folds: readonly StoredFold[],
  resultsPath: string,
): string {
  const lines: string[] = [];
  const ps = s.pruneSettings;
  // The pruner's settings when they are not the defaults (the command line that made the run shows them).
  const pruneDetail =
    ps === undefined || s.prune === 'none'
      ? ''
      : s.prune === 'median'
        ? ` (startup ${ps.startup}, warm-up ${(ps.warmup + 1) / 10})`
        : ` (η ${ps.eta})`;
  lines.push(
    `hyperopt ${s.coin} ${s.strategy}: ${s.sampler} sampler, seed ${s.seed}, -j ${s.jobs}, prune ${s.prune}${pruneDetail}, min fills ${s.minFills}`,
  );
  lines.push(`  loss ${describeLoss(s.loss)}`);
  lines.push(`  space ${s.space.map(describeDimension).join('  ')}`);
  lines.push(`  ${counts(epochs)}`);
  const wf = s.folds.length > 1;
  for (const f of folds) {
    const fe = epochs.filter((e) => e.fold === f.fold);
    const best = f.bestN === null ? undefined : fe.find((e) => e.n === f.bestN);
    const head = wf ? `fold ${f.fold}/${s.folds.length}` : 'result';
    lines.push('');
    lines.push(
      `${head}: train ${iso(f.train.from)} → ${iso(f.train.to)}${f.test ? `, test (held back) ${iso(f.test.from)} → ${iso(f.test.to)}` : ' (--train 1: the whole range, no out-of-sample test)'}`,
    );
    if (!best) {
      lines.push(`  no feasible epoch (every epoch was pruned, had < ${s.minFills} fills, or failed)`);
      continue;
    }
    lines.push(`  best epoch ${best.n}: ${formatParams(best.params)}`);
    lines.push(
      evalLine('IN-SAMPLE (train, optimised on)', {
        loss: best.loss,
        status: best.status,
        metrics: best.metrics,
        error: null,
        series: [],
      }),
    );
    if (f.test) lines.push(evalLine('OUT-OF-SAMPLE (test, never seen by the search)', f.outOfSample));
  }
  if (wf) {
    const oos = folds
      .map((f) => f.outOfSample)
      .filter((e): e is Evaluation => e !== null && e.metrics !== null);
    const ins = folds
      .map((f) => epochs.find((e) => e.n === f.bestN))
      .filter((e): e is StoredEpoch => e !== undefined && e.metrics !== null);
    const sum = (xs: (BacktestMetrics | null)[], k: 'netPnl' | 'fills') =>
      xs.reduce((a, m) => a + (m ? m[k] : 0), 0);
    const mean = (xs: (number | null)[]) => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    lines.push('');
    lines.push(`walk-forward aggregate over ${folds.length} folds:`);
    lines.push(
      `  IN-SAMPLE: mean loss ${num(mean(ins.map((e) => e.loss)))}, net P&L ${num(
        sum(
          ins.map((e) => e.metrics),
          'netPnl',
        ),
      )} USD, fills ${sum(
        ins.map((e) => e.metrics),
        'fills',
      )}`,
    );
    lines.push(
      `  OUT-OF-SAMPLE: mean loss ${num(mean(oos.map((e) => e.loss)))}, net P&L ${num(
        sum(
          oos.map((e) => e.metrics),
          'netPnl',
        ),
      )} USD, fills ${sum(
        oos.map((e) => e.metrics),
        'fills',
      )} (the test windows tile the end of the range)`,
    );
  }
  lines.push('');
  lines.push(`results ${resultsPath} (hyperopt-list, hyperopt-show --best --export params.json)`);
  return lines.join('\n');
}

/** hyperopt-list: the best epochs (ok ones by loss), then counts. */
export function formatList(s: RunSettings, epochs: readonly StoredEpoch[], top: number): string {
  const ranked = epochs
    .filter((e) => e.status === 'ok')
    .sort((a, b) => (a.loss as number) - (b.loss as number) || a.n - b.n)
    .slice(0, top);
  const header = ['rank', 'epoch', 'fold', 'loss', 'net P&L', 'fills', 'Sharpe', 'max DD', 'ms', 'params'];
  const rows = ranked.map((e, i) => [
    String(i + 1),
    String(e.n),
    String(e.fold),
    num(e.loss),
    num(e.metrics?.netPnl),
    String(e.metrics?.fills ?? '–'),
    num(e.metrics?.sharpe, 2),
    num(e.metrics?.maxDrawdown),
    num(e.ms, 0),
    formatParams(e.params),
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const fmtRow = (r: string[]) =>
    r
      .map((c, k) =>
        k === r.length - 1 ? c : k === 0 || k >= 3 ? c.padStart(widths[k]) : c.padStart(widths[k]),
      )
      .join('  ');
  const lines = [
    `${s.coin} ${s.strategy}, loss ${describeLoss(s.loss)} (in-sample: the train window of each fold)`,
    fmtRow(header),
    ...rows.map(fmtRow),
    counts(epochs),
  ];
  const pruned = epochs.filter((e) => e.status === 'pruned');
  if (pruned.length > 0) {
    const at = new Map<number, number>();
    for (const e of pruned) at.set(e.prunedAt ?? 0, (at.get(e.prunedAt ?? 0) ?? 0) + 1);
    lines.push(
      `pruned at checkpoint: ${[...at.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([f, c]) => `${Math.round(f * 100)}% ×${c}`)
        .join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** One epoch for hyperopt-show --json. */
export function epochJson(e: StoredEpoch, fold: StoredFold | undefined) {
  return {
    n: e.n,
    fold: e.fold,
    status: e.status,
    params: e.params,
    loss: e.loss,
    metrics: e.metrics,
    ms: e.ms,
    checkpoints: e.checkpoints.map((x) => (Number.isFinite(x) ? x : null)),
    prunedAt: e.prunedAt,
    error: e.error,
    best: fold?.bestN === e.n,
    outOfSample:
      fold?.bestN === e.n && fold.outOfSample
        ? { loss: fold.outOfSample.loss, metrics: fold.outOfSample.metrics, window: fold.test }
        : null,
  };
}

export function formatEpoch(s: RunSettings, e: StoredEpoch, fold: StoredFold | undefined): string {
  const lines = [
    `epoch ${e.n} (fold ${e.fold}${fold?.bestN === e.n ? ', best of its fold' : ''}): ${e.status}${e.status === 'pruned' ? ` at ${Math.round((e.prunedAt ?? 0) * 100)}% of the tape` : ''}${e.error ? ` — ${e.error}` : ''}`,
    `  params ${formatParams(e.params)}`,
    `  loss ${num(e.loss)} (${describeLoss(s.loss)})${e.status === 'infeasible' ? ` — infeasible: fewer than ${s.minFills} fills` : ''}`,
    `  IN-SAMPLE ${metricsLine(e.metrics)}, ${num(e.ms, 0)} ms`,
  ];
  if (e.checkpoints.length > 0)
    lines.push(`  running loss at 10%…: ${e.checkpoints.map((x) => num(x, 3)).join(' ')}`);
  if (fold?.bestN === e.n && fold.test)
    lines.push(evalLine(`OUT-OF-SAMPLE ${iso(fold.test.from)} → ${iso(fold.test.to)}`, fold.outOfSample));
  return lines.join('\n');
}

/** The epoch of hyperopt-show: -n N, else the best (of the last fold with one). */
export function pickEpoch(
  epochs: readonly StoredEpoch[],
  folds: readonly StoredFold[],
  n?: number,
): StoredEpoch | undefined {
  if (n !== undefined) return epochs.find((e) => e.n === n);
  for (let i = folds.length - 1; i >= 0; i--) {
    const b = folds[i].bestN;
    if (b !== null) return epochs.find((e) => e.n === b);
  }
  // Folds not evaluated yet (interrupted run): the best completed epoch of the last fold that has one.
  const lastFold = Math.max(0, ...epochs.map((e) => e.fold));
  for (let f = lastFold; f >= 1; f--) {
    const b = bestOf(epochs.filter((e) => e.fold === f));
    if (b) return b;
  }
  return undefined;
}

/**
 * The export file of an epoch: a `cjmm trade` config (coin, orderSize, maxPosition, the strategy section with
 * every field explicit) plus the `backtest` section the epoch ran with (lot, tick, size decimals and fees made
 * explicit), so `cjmm backtest --config` reproduces the epoch and `cjmm trade --config` trades it.
 */
export function exportConfig(s: RunSettings, params: Params): Record<string, unknown> {
  const setup = s.setup;
  const raw = applyParams(s.strategy, setup.baseStrategy, params);
  const lot =
    setup.lotFollowsOrderSize && typeof raw.orderSize === 'number' ? raw.orderSize : setup.instrument.lotSize;
  const cfg = parseStrategyConfig({ ...raw, orderSize: raw.orderSize ?? lot });
  const bound = strategyBoundLots(cfg);
  const backtest: Record<string, unknown> = {
    ...setup.backtest,
    lotSize: lot,
    tick: setup.instrument.tick,
    szDecimals: setup.instrument.szDecimals,
    fees: { maker: setup.instrument.makerFee, taker: setup.instrument.takerFee },
  };
  return {
    coin: s.coin,
    orderSize: lot,
    maxPosition: bound,
    strategy: cfg,
    backtest,
  };
}
