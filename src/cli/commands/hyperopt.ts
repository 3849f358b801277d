/**
 * `cjmm hyperopt`, `cjmm hyperopt-show`, `cjmm hyperopt-list`: parameter search on the tick-level backtester.
 * Parsing, progress and printing only; src/optimize does the work.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { BacktestConfigError, type BacktestConfigFile, buildStrategy } from '../../backtest/setup.ts';
import { resolveFeeConfig } from '../../exchange/fees.ts';
import { SourceError } from '../../marketdata/source.ts';
import type { EpochSetup } from '../../optimize/epoch.ts';
import { makeFolds } from '../../optimize/folds.ts';
import {
  newRunTiming,
  type RunSettings,
  runHyperopt,
  SAMPLERS,
  type SamplerName,
  settingsMismatch,
} from '../../optimize/hyperopt.ts';
import {
  BUILTIN_LOSSES,
  isBuiltinLoss,
  LossError,
  loadLoss,
  resolveLossPath,
} from '../../optimize/losses.ts';
import {
  epochJson,
  exportConfig,
  formatEpoch,
  formatList,
  formatParams,
  formatSummary,
  hyperoptJson,
  pickEpoch,
} from '../../optimize/output.ts';
import { defaultJobs, type Executor, LocalPool } from '../../optimize/pool.ts';
import {
  DEFAULT_PRUNE,
  PRUNERS,
  type PrunerName,
  type PruneSettings,
  warmupIndex,
} from '../../optimize/pruners.ts';
import { QueueError, QueueExecutor } from '../../optimize/queue.ts';
import { renderHyperoptReport } from '../../optimize/report.ts';
import {
  applyParams,
  buildSpace,
  type Dimension,
  fromInternal,
  internalBounds,
  parseSpacesJson,
  SpaceError,
} from '../../optimize/space.ts';
import { ResultsStore } from '../../optimize/store.ts';
import {
  loadShared,
  objectBytes,
  resolveTapeMode,
  TAPE_MODES,
  type TapeModeOption,
} from '../../optimize/tape-source.ts';
import { STRATEGY_NAMES, type StrategyName } from '../../strategies/index.ts';
import { readConfigFile } from '../config-file.ts';
import { CliError } from '../errors.ts';
import { intOption, timeOption } from '../options.ts';

export const RESULTS_DIR = join('.cjmm', 'hyperopt');
const LAST = join(RESULTS_DIR, 'last');
const SETTINGS_VERSION = 1;

interface HyperoptFlags {
  data: string;
  coin: string;
  strategy: string;
  config?: string;
  space: string[];
  spacesFile?: string;
  epochs: string;
  jobs?: string;
  sampler: string;
  seed: string;
  prune: string;
  pruneStartup: string;
  pruneWarmup: string;
  pruneEta: string;
  loss: string;
  minFills: string;
  from?: string;
  to?: string;
  walkForward?: string;
  train: string;
  results?: string;
  resume?: boolean;
  queue?: string;
  tapeMode: TapeModeOption;
  lag: string;
  json?: boolean;
  report?: string;
  progress?: boolean;
}

/** The results file named by --results, else the last run's (hyperopt-show / -list / --resume). */
function lastResults(): string | undefined {
  try {
    const p = readFileSync(LAST, 'utf8').trim();
    return p || undefined;
  } catch {
    return undefined;
  }
}

function openExisting(flag: string | undefined): ResultsStore {
  const path = flag ?? lastResults();
  if (!path)
    throw new CliError(`no results file: give --results <file> (no previous run recorded in ${LAST})`);
  if (!existsSync(path)) throw new CliError(`--results ${path}: no such file`);
  let store: ResultsStore;
  try {
    store = new ResultsStore(path, { readOnly: true });
  } catch (e) {
    throw new CliError(`--results ${path}: not a hyperopt results file (${(e as Error).message})`);
  }
  return store;
}

function settingsOf(store: ResultsStore): RunSettings {
  let s: RunSettings | undefined;
  try {
    s = store.getMeta<RunSettings>('settings');
  } catch {
    s = undefined;
  }
  if (!s) throw new CliError(`--results ${store.path}: not a hyperopt results file (no run settings)`);
  return s;
}

/** The lowest and highest value of each dimension (to validate the config before anything runs). */
function corners(space: Dimension[]) {
  const lo: Record<string, number | string> = {};
  const hi: Record<string, number | string> = {};
  for (const d of space) {
    const [a, b] = internalBounds(d);
    lo[d.name] = fromInternal(d, d.type === 'categorical' ? 0 : a);
    hi[d.name] = fromInternal(d, d.type === 'categorical' ? d.high : b);
  }
  return [lo, hi];
}

async function hyperopt(flags: HyperoptFlags): Promise<void> {
  if (!STRATEGY_NAMES.includes(flags.strategy as StrategyName))
    throw new CliError(`--strategy must be one of ${STRATEGY_NAMES.join('|')} (got ${flags.strategy})`);
  const strategy = flags.strategy as StrategyName;
  const epochs = intOption('--epochs', flags.epochs, 1);
  const jobs = flags.jobs !== undefined ? intOption('-j/--jobs', flags.jobs, 1) : defaultJobs();
  const seed = intOption('--seed', flags.seed, 0);
  const tapeMode = flags.tapeMode;
  const lag = intOption('--lag', flags.lag, 0);
  const minFills = intOption('--min-fills', flags.minFills, 0);
  if (!(SAMPLERS as readonly string[]).includes(flags.sampler))
    throw new CliError(`--sampler must be ${SAMPLERS.join(' or ')} (got ${flags.sampler})`);
  if (!(PRUNERS as readonly string[]).includes(flags.prune))
    throw new CliError(`--prune must be one of ${PRUNERS.join('|')} (got ${flags.prune})`);
  const pruneStartup = intOption('--prune-startup', flags.pruneStartup, 0);
  const warmupFraction = /^\s*(0?\.\d+|\d+(\.\d*)?)\s*$/.test(flags.pruneWarmup)
    ? Number(flags.pruneWarmup)
    : Number.NaN;
  const pruneWarmup = warmupIndex(warmupFraction);
  if (pruneWarmup === undefined)
    throw new CliError(
      `--prune-warmup must be a checkpoint of the tape: 0.1, 0.2, … 0.9 (got ${flags.pruneWarmup})`,
    );
  const pruneEta = intOption('--prune-eta', flags.pruneEta, 2);
  const pruneSettings: PruneSettings = { startup: pruneStartup, warmup: pruneWarmup, eta: pruneEta };
  const train = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(flags.train) ? Number(flags.train) : Number.NaN;
  if (!(train > 0 && train <= 1))
    throw new CliError(`--train must be a fraction in (0, 1] (got ${flags.train})`);
  const walkForward =
    flags.walkForward !== undefined ? intOption('--walk-forward', flags.walkForward, 1) : null;
  if (walkForward !== null && walkForward > 1 && train === 1)
    throw new CliError('--walk-forward needs a test window after each train window: --train must be < 1');
  const from = timeOption('--from', flags.from);
  const to = timeOption('--to', flags.to);
  if (from !== undefined && to !== undefined && !(from < to))
    throw new CliError('--from must be before --to');
  let loss = flags.loss;
  if (!isBuiltinLoss(loss)) {
    if (!/\.(ts|mts|js|mjs)$/.test(loss))
      throw new CliError(
        `--loss must be one of ${BUILTIN_LOSSES.join('|')} or a .ts/.js module path (got ${loss})`,
      );
    loss = resolveLossPath(loss);
    if (!existsSync(loss)) throw new CliError(`--loss ${flags.loss}: no such file`);
    try {
      await loadLoss(loss);
    } catch (e) {
      if (e instanceof LossError) throw new CliError(e.message);
      throw e;
    }
  }

  let cfg: BacktestConfigFile = { backtest: {} };
  try {
    if (flags.config) cfg = readConfigFile(flags.config);
  } catch (e) {
    if (e instanceof BacktestConfigError) throw new CliError(e.message);
    throw e;
  }
  // The space's names, ranges and types are checked before any data is read (defaults in ticks/lots are
  // resolved once the instrument is known).
  let spacesJson: unknown;
  try {
    if (flags.spacesFile) {
      try {
        spacesJson = JSON.parse(readFileSync(flags.spacesFile, 'utf8'));
      } catch (e) {
        throw new CliError(`--spaces-file ${flags.spacesFile}: cannot read JSON (${(e as Error).message})`);
      }
    }
    buildSpace(
      strategy,
      flags.space,
      spacesJson === undefined ? [] : parseSpacesJson(spacesJson, flags.spacesFile as string, strategy),
    );
  } catch (e) {
    if (e instanceof SpaceError) throw new CliError(e.message);
    throw e;
  }
  if (cfg.strategyRaw?.strategy !== undefined && cfg.strategyRaw.strategy !== strategy)
    throw new CliError(
      `--strategy ${strategy} but ${flags.config} is for '${String(cfg.strategyRaw.strategy)}'; make them agree`,
    );
  const baseStrategy = cfg.strategyRaw ? { ...cfg.strategyRaw } : undefined;
  if (baseStrategy) delete baseStrategy.strategy;

  // Results file: a new one, or the one to resume.
  let resultsPath: string;
  if (flags.resume) {
    const p = flags.results ?? lastResults();
    if (!p || !existsSync(p))
      throw new CliError(
        `--resume: no results file ${p ?? `(none recorded in ${LAST})`}; give --results <file>`,
      );
    resultsPath = p;
  } else {
    resultsPath =
      flags.results ??
      join(
        RESULTS_DIR,
        `${strategy}-${flags.coin}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}.sqlite`,
      );
    if (existsSync(resultsPath)) {
      const s = new ResultsStore(resultsPath);
      const n = s.epochs().length;
      s.close();
      if (n > 0)
        throw new CliError(
          `--results ${resultsPath} already holds a run (${n} epochs): add --resume to continue it, or name another file`,
        );
    }
  }

  // Local threads start now, loading their code while the data is read (closed again on any error below).
  const pool = flags.queue ? undefined : new LocalPool(jobs, tapeMode);
  try {
    return await prepareAndRun(
      flags,
      {
        strategy,
        epochs,
        jobs,
        seed,
        tapeMode,
        lag,
        pruneSettings,
        minFills,
        train,
        walkForward,
        from,
        to,
        loss,
        cfg,
        spacesJson,
        baseStrategy,
        resultsPath,
      },
      pool,
    );
  } catch (e) {
    await pool?.close();
    throw e;
  }
}

interface Parsed {
  strategy: StrategyName;
  epochs: number;
  jobs: number;
  seed: number;
  tapeMode: TapeModeOption;
  lag: number;
  pruneSettings: PruneSettings;
  minFills: number;
  train: number;
  walkForward: number | null;
  from: number | undefined;
  to: number | undefined;
  loss: string;
  cfg: BacktestConfigFile;
  spacesJson: unknown;
  baseStrategy: Record<string, unknown> | undefined;
  resultsPath: string;
}

async function prepareAndRun(flags: HyperoptFlags, p: Parsed, pool: LocalPool | undefined): Promise<void> {
  const { strategy, epochs, jobs, seed, tapeMode, lag, minFills, train, walkForward, from, to, loss, cfg } =
    p;
  const { spacesJson, baseStrategy, resultsPath, pruneSettings } = p;
  const bt = cfg.backtest;
  const dataPath = resolve(flags.data);
  const progress = flags.progress === true || process.stderr.isTTY === true;
  if (progress) process.stderr.write(`reading ${flags.data} (${flags.coin}) …\n`);
  const orderSize = typeof baseStrategy?.orderSize === 'number' ? baseStrategy.orderSize : undefined;
  const given = {
    tick: bt.tick,
    szDecimals: bt.szDecimals,
    lotSize: bt.lotSize ?? orderSize,
    fees: resolveFeeConfig(bt.fees),
  };
  let loaded: Awaited<ReturnType<typeof loadShared>>;
  try {
    loaded = await loadShared(dataPath, flags.coin, { from, to }, given);
  } catch (e) {
    if (e instanceof SourceError) throw new CliError(`--data: ${e.message}`);
    if (e instanceof BacktestConfigError) throw new CliError(e.message);
    throw e;
  }
  if (loaded.read === 0 || !loaded.instrument)
    throw new CliError(
      `--coin ${flags.coin}: no events of that coin in ${flags.data}${from !== undefined || to !== undefined ? ' within --from/--to' : ''}`,
    );
  const instrument = loaded.instrument;

  let setup: EpochSetup;
  let space: Dimension[];
  try {
    const fileDims =
      spacesJson === undefined
        ? []
        : parseSpacesJson(spacesJson, flags.spacesFile as string, strategy, instrument);
    space = buildSpace(strategy, flags.space, fileDims, instrument);
    setup = {
      strategy,
      baseStrategy,
      backtest: bt,
      instrument,
      lotFollowsOrderSize: bt.lotSize === undefined,
      loss,
      minFills,
    };
    // Refuse a config that no epoch could run, before anything starts.
    for (const p of corners(space)) {
      const raw = applyParams(strategy, baseStrategy, p);
      const lot =
        typeof raw.orderSize === 'number' && bt.lotSize === undefined ? raw.orderSize : instrument.lotSize;
      buildStrategy(strategy, raw, { ...instrument, lotSize: lot });
    }
  } catch (e) {
    if (e instanceof SpaceError || e instanceof BacktestConfigError) throw new CliError(e.message);
    throw e;
  }
  const range = { from: from ?? loaded.firstEx, to: to ?? loaded.lastEx + 1 };
  const settings: RunSettings = {
    version: SETTINGS_VERSION,
    strategy,
    coin: flags.coin,
    data: dataPath,
    from: from ?? null,
    to: to ?? null,
    range,
    space,
    epochs,
    jobs,
    sampler: flags.sampler as SamplerName,
    seed,
    prune: flags.prune as PrunerName,
    // Stored only when they differ from the defaults (files of earlier versions have none: the defaults).
    ...(JSON.stringify(pruneSettings) !== JSON.stringify(DEFAULT_PRUNE) ? { pruneSettings } : {}),
    loss,
    minFills,
    train,
    walkForward,
    ...(lag > 0 ? { lag } : {}),
    folds: makeFolds(range, train, walkForward ?? undefined),
    setup,
  };

  const store = new ResultsStore(resultsPath);
  let runId: string;
  if (flags.resume) {
    const stored = store.getMeta<RunSettings>('settings');
    if (!stored) {
      store.close();
      throw new CliError(`--resume: ${resultsPath} holds no run settings`);
    }
    const diff = settingsMismatch(stored, settings);
    if (diff) {
      store.close();
      throw new CliError(
        `--resume: ${diff} differs from the run stored in ${resultsPath}; resume with the same flags and config (or start a new --results)`,
      );
    }
    runId = store.getMeta<string>('runId') ?? randomUUID();
    store.setMeta('settings', settings);
  } else {
    runId = randomUUID();
    store.setMeta('settings', settings);
    store.setMeta('runId', runId);
  }
  mkdirSync(dirname(LAST), { recursive: true });
  writeFileSync(LAST, `${resultsPath}\n`);

  let executor: Executor;
  try {
    if (pool) {
      await pool.ready();
      executor = pool;
    } else
      executor = await QueueExecutor.connect(
        flags.queue as string,
        { kind: 'path', path: dataPath, coin: flags.coin, from, to },
        jobs,
      );
  } catch (e) {
    store.close();
    if (e instanceof QueueError) throw new CliError(e.message);
    throw e;
  }

  const total = settings.folds.length * epochs;
  const already = store.epochs().length;
  let best = Number.POSITIVE_INFINITY;
  for (const e of store.epochs()) if (e.status === 'ok' && e.loss !== null && e.loss < best) best = e.loss;
  const bar = progress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format:
            'hyperopt |{bar}| epoch {value}/{total} | fold {fold} | best loss {best} | ETA {eta_formatted}',
          hideCursor: false,
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 5000,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, already, {
    fold: `1/${settings.folds.length}`,
    best: Number.isFinite(best) ? best.toFixed(4) : '–',
  });
  if (flags.queue && progress)
    process.stderr.write(
      `epochs go to ${executor.description}; start workers with: cjmm worker --queue ${flags.queue}\n`,
    );
  else if (progress)
    process.stderr.write(
      `${executor.description} replay ${resolveTapeMode(tapeMode, loaded.shared, jobs)} (--tape-mode ${tapeMode}; event objects ≈ ${(objectBytes(loaded.shared) / 2 ** 20).toFixed(0)} MiB per thread)\n`,
    );
  const note = (line: string) => {
    if (bar) bar.stop();
    process.stderr.write(`${line}\n`);
    if (bar)
      bar.start(total, store.count(), {
        fold: '',
        best: Number.isFinite(best) ? best.toFixed(4) : '–',
      });
  };

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    bar?.stop();
    const n = store.count();
    store.close();
    process.stderr.write(
      `\ninterrupted: ${n} finished epochs are kept in ${resultsPath}; continue with the same command plus --resume\n`,
    );
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let outcome: 'done' | 'stopped';
  const timing = newRunTiming();
  try {
    outcome = await runHyperopt(
      settings,
      runId,
      store,
      executor,
      loaded.shared,
      {
        onEpoch: (e, fold) => {
          if (e.status === 'ok' && e.loss !== null && e.loss < best) best = e.loss;
          if (e.status === 'failed')
            note(
              `cjmm: epoch ${e.n} (fold ${e.fold}) failed: ${e.error}; params ${formatParams(e.params)} (the run continues)`,
            );
          bar?.update(store.count(), {
            fold: `${fold.index}/${settings.folds.length}`,
            best: Number.isFinite(best) ? best.toFixed(4) : '–',
          });
        },
      },
      timing,
    );
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    bar?.stop();
    await executor.close();
  }
  const epochsDone = store.epochs();
  const folds = store.folds();
  // Where the time went (the last session of this file): read by `npm run bench -- optimize`.
  store.setMeta('timing', {
    ...timing,
    jobs,
    executor: executor.description,
    tapeMode: flags.queue ? null : resolveTapeMode(tapeMode, loaded.shared, jobs),
  });
  store.close();
  if (outcome === 'stopped') return;
  if (flags.report) {
    writeFileSync(flags.report, renderHyperoptReport(settings, epochsDone, folds));
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(hyperoptJson(epochsDone, folds), null, 2)}\n`);
  else {
    console.log(formatSummary(settings, epochsDone, folds, resultsPath));
    if (flags.report) console.log(`report written to ${flags.report}`);
  }
}

interface ShowFlags {
  results?: string;
  best?: boolean;
  n?: string;
  json?: boolean;
  export?: string;
}

function show(flags: ShowFlags): void {
  if (flags.best && flags.n !== undefined) throw new CliError('--best and -n: give one of them');
  const store = openExisting(flags.results);
  try {
    const s = settingsOf(store);
    const epochs = store.epochs();
    const folds = store.folds();
    const n = flags.n !== undefined ? intOption('-n', flags.n, 1) : undefined;
    const e = pickEpoch(epochs, folds, n);
    if (!e)
      throw new CliError(
        n !== undefined
          ? `-n ${n}: no such epoch in ${store.path} (it holds ${epochs.length} epochs${epochs.length > 0 ? `, ${epochs[0].n}–${epochs[epochs.length - 1].n}` : ''})`
          : `${store.path}: no feasible epoch yet`,
      );
    const fold = folds.find((f) => f.fold === e.fold);
    if (flags.export) {
      writeFileSync(flags.export, `${JSON.stringify(exportConfig(s, e.params), null, 2)}\n`);
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(epochJson(e, fold), null, 2)}\n`);
    else {
      console.log(formatEpoch(s, e, fold));
      if (flags.export)
        console.log(
          `exported to ${flags.export}: run it with cjmm backtest --data … --strategy ${s.strategy} --config ${flags.export}, or cjmm trade --config ${flags.export}`,
        );
    }
  } finally {
    store.close();
  }
}

interface ListFlags {
  results?: string;
  top: string;
  json?: boolean;
}

function list(flags: ListFlags): void {
  const top = intOption('--top', flags.top, 1);
  const store = openExisting(flags.results);
  try {
    const s = settingsOf(store);
    const epochs = store.epochs();
    const folds = store.folds();
    if (flags.json) {
      const ranked = epochs
        .filter((e) => e.status === 'ok')
        .sort((a, b) => (a.loss as number) - (b.loss as number) || a.n - b.n)
        .slice(0, top);
      const out = ranked.map((e) =>
        epochJson(
          e,
          folds.find((f) => f.fold === e.fold),
        ),
      );
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else console.log(formatList(s, epochs, top));
  } finally {
    store.close();
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  program
    .command('hyperopt')
    .description(
      'Search strategy parameters on the tick-level backtester (TPE, pruning, walk-forward, Redis fleet)',
    )
    .requiredOption('--data <path>', 'market data: a store or any raw layout `cjmm data` reads')
    .requiredOption('--coin <coin>', 'coin to trade')
    .requiredOption('--strategy <name>', 'cj | fixed | as | glft')
    .option(
      '--config <file>',
      'the backtest config the search starts from (strategy fields, a "backtest" section)',
    )
    .option(
      '--space <name=lo:hi[:int|:log]>',
      'a tunable parameter and its range (repeatable; `name` alone = default range; a,b for choices)',
      collect,
      [],
    )
    .option('--spaces-file <file>', 'JSON { "name": "lo:hi[:int|:log]" | {low, high, int, log} | [choices] }')
    .option('--epochs <n>', 'epochs (per fold)', '200')
    .option('-j, --jobs <n>', 'epochs run in parallel = batch size (default: cores)')
    .option('--sampler <name>', 'tpe | random', 'tpe')
    .option('--seed <n>', 'seed of the sampler (equal --seed and -j give identical results)', '1')
    .option('--prune <name>', 'median | asha | none', 'median')
    .option(
      '--prune-startup <n>',
      'median: epochs completed before the pruner acts (Optuna n_startup_trials)',
      String(DEFAULT_PRUNE.startup),
    )
    .option(
      '--prune-warmup <fraction>',
      'median: the first checkpoint of the tape at which an epoch may be stopped, 0.1 … 0.9 (Optuna n_warmup_steps)',
      String((DEFAULT_PRUNE.warmup + 1) / 10),
    )
    .option(
      '--prune-eta <n>',
      'asha: the reduction factor η (rungs at 10 %, η·10 %, η²·10 %…; the best 1/η go on)',
      String(DEFAULT_PRUNE.eta),
    )
    .option(
      '--loss <name|module.ts>',
      `${BUILTIN_LOSSES.join(' | ')} | a module exporting loss(metrics)`,
      'pnl',
    )
    .option('--min-fills <n>', 'epochs with fewer fills are infeasible', '25')
    .option('--from <time>', 'start of the data, ISO-8601 or epoch ms (exchange time)')
    .option('--to <time>', 'end (exclusive)')
    .option('--walk-forward <k>', 'k rolling train/test folds')
    .option(
      '--lag <n>',
      'propose a batch before the previous n finish (their parameters as constant liars): no idle cores waiting for a batch’s slowest epoch; results depend on --lag too',
      '0',
    )
    .option('--train <fraction>', 'train share of the range (1 = no held-back test)', '0.7')
    .option(
      '--results <file.sqlite>',
      `results file (default ${RESULTS_DIR}/<strategy>-<coin>-<time>.sqlite)`,
    )
    .option('--resume', 'continue the run in --results (default: the last run)')
    .option('--queue <redis://host:port>', 'run epochs on `cjmm worker` processes through Redis (BullMQ)')
    .addOption(
      new Option(
        '--tape-mode <mode>',
        'columns | objects | auto: local threads replay the shared columns in place (default) or event objects made once each (memory per thread; auto: objects while small); fleet workers take their own --tape-mode',
      )
        .choices(TAPE_MODES)
        .default('columns'),
    )
    .option('--json', 'print { best, folds, epochs } as JSON')
    .option('--report <file.html>', 'write a self-contained HTML report')
    .option('--progress', 'show the progress bar on stderr even when it is not a terminal')
    .action(async (opts: HyperoptFlags) => {
      await hyperopt(opts);
    });
  program
    .command('hyperopt-show')
    .description('Show one epoch of a hyperopt run (default: the best); --export writes its config file')
    .option('--results <file>', 'results file (default: the last run)')
    .option('--best', 'the best epoch (default)')
    .option('-n <n>', 'epoch number')
    .option('--json', 'print as JSON')
    .option(
      '--export <file.json>',
      'write a config that cjmm backtest --config and cjmm trade --config accept',
    )
    .action((opts: ShowFlags) => show(opts));
  program
    .command('hyperopt-list')
    .description('List the best epochs of a hyperopt run')
    .option('--results <file>', 'results file (default: the last run)')
    .option('--top <n>', 'how many', '20')
    .option('--json', 'print as JSON')
    .action((opts: ListFlags) => list(opts));
}
