/**
 * Hyperopt throughput on the shared ETH recording (24 min, 18k events): 100 epochs of `cj` and of `fixed`
 * (their default spaces, random sampler, --prune none so every epoch replays the whole train window; no batch
 * barrier then) with -j 1 and -j 2, in both tape modes (--tape-mode objects: event objects made once per
 * thread, what `auto` picks for this data; columns: the shared columns read in place), each in its own
 * process running the real `cjmm hyperopt` (bench/helpers/cli-run.ts): epochs/s by wall clock and per
 * CPU-second of the process (all threads), speed-up, CPU per epoch in its thread, utilisation (Σ epoch CPU /
 * (loop wall × jobs): what the load leaves us), per-epoch overhead outside the backtest itself (coordinator
 * CPU per epoch: sampler, dispatch to the thread, result, SQLite write), and peak RSS. Then the same `fixed`
 * run over 2 local `cjmm worker` processes through Redis (when redis-server is installed), and pruning
 * (median, asha) against --prune none at the same seed, with the batch barrier's cost where it applies
 * (TPE): Σ epoch CPU / (jobs × Σ per batch of its costliest epoch's CPU), independent of the load, and
 * TPE with --lag 1 (no barrier) against it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { hasRedis, startRedis } from '../test/helpers/redis.ts';
import { SEED_ROOT } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

if (!existsSync(SEED_ROOT)) {
  console.log(`skipped: ${SEED_ROOT} not found (set CJMM_SHARED_DATA)`);
  process.exit(0);
}
const here = dirname(fileURLToPath(import.meta.url));
const HELPER = join(here, 'helpers', 'cli-run.ts');
const MAIN = join(here, '..', 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'cjmm-bench-opt-'));
const EPOCHS = Number(process.env.CJMM_BENCH_EPOCHS ?? 100);

interface Run {
  /** The whole process (data read, pool start, epochs, evaluations). */
  wallMs: number;
  /** The epoch batches only (RunTiming of src/optimize/hyperopt.ts). */
  loopMs: number;
  batchFloorMs: number;
  batchCpuFloorMs: number;
  slotIdleMs: number;
  jobs: number;
  /** CPU of the coordinating thread during the batches, and of the epochs in the workers. */
  mainCpuMs: number;
  epochCpuMs: number;
  cpuMs: number;
  maxRssMiB: number;
  epochMs: number;
  epochs: number;
  bestLoss: number | null;
  pruned: number;
}

let seq = 0;
function hyperopt(strategy: string, jobs: number, extra: string[] = []): Run {
  const results = join(dir, `r${seq++}.sqlite`);
  const args = [
    HELPER,
    'hyperopt',
    '--data',
    SEED_ROOT,
    '--coin',
    'ETH',
    '--strategy',
    strategy,
    '--epochs',
    String(EPOCHS),
    '-j',
    String(jobs),
    '--seed',
    '1',
    '--results',
    results,
    '--json',
    ...(extra.includes('--prune') ? [] : ['--prune', 'none']),
    ...extra,
  ];
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`hyperopt failed: ${r.stderr}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '));
  const m = JSON.parse((line as string).slice(6)) as { wallMs: number; cpuMs: number; maxRssMiB: number };
  const out = JSON.parse(r.stdout) as {
    best: { loss: number } | null;
    epochs: { ms: number; loss: number | null }[];
  };
  const db = new DatabaseSync(results, { readOnly: true });
  const t = JSON.parse(
    (db.prepare("SELECT value FROM meta WHERE key = 'timing'").get() as { value: string }).value,
  );
  const pruned = Number(
    (db.prepare("SELECT count(*) AS c FROM epochs WHERE status = 'pruned'").get() as { c: number }).c,
  );
  db.close();
  return {
    ...m,
    loopMs: t.loopMs,
    batchFloorMs: t.batchFloorMs,
    batchCpuFloorMs: t.batchCpuFloorMs,
    slotIdleMs: t.slotIdleMs,
    jobs: t.jobs,
    mainCpuMs: t.mainCpuMs,
    epochCpuMs: t.epochCpuMs,
    epochMs: out.epochs.reduce((a, e) => a + e.ms, 0),
    epochs: out.epochs.length,
    bestLoss: out.best?.loss ?? null,
    pruned,
  };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(`load average before: ${load()} (1, 5, 15 min); ${EPOCHS} epochs per run`);
/** Epochs per second of the epoch loop (startup, data read and the final evaluations excluded). */
const rate = (r: Run) => (r.epochs / r.loopMs) * 1000;
const perCpu = (r: Run) => `${((r.epochs / r.cpuMs) * 1000).toFixed(1)}/CPU-s`;

// Throughput runs use the random sampler: -j changes the batches and so TPE's trajectory (and which, possibly
// costlier, parameters it visits), while random proposals have the same distribution for every -j.
const cpuPerEpoch = (r: Run) => r.epochCpuMs / r.epochs;
/** Share of jobs × loop wall the epochs' CPU filled (1 = every thread computing all the time). */
const utilisation = (r: Run) => r.epochCpuMs / (r.loopMs * r.jobs);
/** Share of jobs × loop wall with an epoch in flight (what the schedule kept busy, whatever the load). */
const slotsBusy = (r: Run) => 1 - r.slotIdleMs / (r.loopMs * r.jobs);
/** Share of the cores the batch barrier leaves busy, from CPU times (1 = no barrier cost). */
const barrierUse = (r: Run) => r.epochCpuMs / (r.jobs * r.batchCpuFloorMs);
for (const strategy of ['fixed', 'cj']) {
  const runs: Record<string, Run> = {};
  for (const mode of ['objects', 'columns'])
    for (const j of [1, 2])
      runs[`${mode}${j}`] = hyperopt(strategy, j, ['--sampler', 'random', '--tape-mode', mode]);
  for (const mode of ['objects', 'columns']) {
    const one = runs[`${mode}1`];
    const two = runs[`${mode}2`];
    const tag = `${strategy} [${mode}]`;
    report(
      `${tag}: epochs/s -j 1 / -j 2 (loop wall)`,
      `${rate(one).toFixed(1)} / ${rate(two).toFixed(1)}; per CPU-s ${perCpu(one)} / ${perCpu(two)}`,
    );
    const speedup = rate(two) / rate(one);
    report(
      `${tag}: speed-up -j 2 / -j 1 (loop wall)`,
      `${speedup.toFixed(2)}×`,
      '≥ 1.8× on 2 cores',
      speedup >= 1.8,
    );
    report(
      `${tag}: epoch CPU in its thread, -j 1 / -j 2`,
      `${cpuPerEpoch(one).toFixed(1)} / ${cpuPerEpoch(two).toFixed(1)} ms`,
    );
    report(
      `${tag}: utilisation Σ epoch CPU / (wall × jobs), -j 1 / -j 2; thread slots busy -j 2`,
      `${(utilisation(one) * 100).toFixed(0)} / ${(utilisation(two) * 100).toFixed(0)} %; ${(slotsBusy(two) * 100).toFixed(0)} %`,
    );
    const ohCpu = one.mainCpuMs / one.epochs;
    const ohCpu2 = two.mainCpuMs / two.epochs;
    report(
      `${tag}: per-epoch dispatch overhead (coordinator CPU), -j 1 / -j 2`,
      `${ohCpu.toFixed(2)} / ${ohCpu2.toFixed(2)} ms`,
      '≤ 5 ms',
      Math.max(ohCpu, ohCpu2) <= 5,
    );
    const oh = (one.loopMs - one.epochMs) / one.epochs;
    report(`${tag}: same, wall time between epochs at -j 1 (load-dependent)`, `${oh.toFixed(2)} ms`);
    report(
      `${tag}: whole command -j 1 / -j 2 (read, start, evaluate)`,
      `${(one.wallMs / 1000).toFixed(1)} / ${(two.wallMs / 1000).toFixed(1)} s`,
    );
    const mem = two.maxRssMiB / one.maxRssMiB;
    report(
      `${tag}: peak RSS -j 1 / -j 2`,
      `${one.maxRssMiB.toFixed(0)} / ${two.maxRssMiB.toFixed(0)} MiB (${mem.toFixed(2)}×)`,
      '-j 2 ≤ 1.3× -j 1',
      mem <= 1.3,
    );
  }
  const saved = 1 - cpuPerEpoch(runs.objects1) / cpuPerEpoch(runs.columns1);
  report(`${strategy}: epoch CPU saved by objects over columns, -j 1`, `${(saved * 100).toFixed(0)} %`);
  console.log(`  (load average now: ${load()})`);
}

if (!hasRedis) console.log('distributed: skipped (redis-server not installed)');
else {
  const redis = await startRedis();
  const workers: ChildProcess[] = [0, 1].map(() =>
    spawn(process.execPath, [MAIN, 'worker', '--queue', redis.url, '-j', '1', '--quiet'], {
      cwd: dir,
      stdio: 'ignore',
    }),
  );
  try {
    // Warm the workers (data read once per worker process), then measure.
    hyperopt('fixed', 2, ['--queue', redis.url, '--epochs', '4']);
    const local = hyperopt('fixed', 2, ['--sampler', 'random']);
    const dist = hyperopt('fixed', 2, ['--sampler', 'random', '--queue', redis.url]);
    const ratio = rate(dist) / rate(local);
    report('fixed: 2 local cjmm workers via Redis, epochs/s (loop)', `${rate(dist).toFixed(1)}/s`);
    report('fixed: distributed rate / local -j 2 rate', `${ratio.toFixed(2)}×`, '≥ 0.9×', ratio >= 0.9);
    console.log(`  (coordinator CPU ${dist.cpuMs.toFixed(0)} ms; load average now: ${load()})`);
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))),
    );
    await redis.stop();
  }
}

// Pruning. With the random sampler the pruned and the unpruned run try the same parameter sets, so the
// comparison is at equal proposals: equal best loss unless the pruner stopped the eventual best. With TPE the
// pruned epochs also change what is proposed next.
for (const strategy of ['fixed', 'cj']) {
  for (const sampler of ['random', 'tpe']) {
    const none = hyperopt(strategy, 2, ['--prune', 'none', '--sampler', sampler]);
    if (sampler === 'tpe') {
      report(
        `${strategy} tpe -j 2 --prune none: cores the batch barrier leaves busy (epoch CPU); utilisation`,
        `${(barrierUse(none) * 100).toFixed(0)} %; ${(utilisation(none) * 100).toFixed(0)} %`,
      );
      const lagged = hyperopt(strategy, 2, ['--prune', 'none', '--sampler', sampler, '--lag', '1']);
      report(
        `${strategy} tpe -j 2 --lag 1 vs --lag 0: epochs/s (loop wall); slots busy; utilisation`,
        `${rate(lagged).toFixed(1)} vs ${rate(none).toFixed(1)}; ${(slotsBusy(lagged) * 100).toFixed(0)} vs ${(slotsBusy(none) * 100).toFixed(0)} %; ${(utilisation(lagged) * 100).toFixed(0)} vs ${(utilisation(none) * 100).toFixed(0)} %`,
      );
      report(
        `  best loss --lag 1 vs --lag 0 (other proposals: a different search, not a like-for-like)`,
        `${lagged.bestLoss?.toFixed(4)} vs ${none.bestLoss?.toFixed(4)}`,
      );
    }
    for (const pruner of ['median', 'asha']) {
      const p = hyperopt(strategy, 2, ['--prune', pruner, '--sampler', sampler]);
      report(
        `${strategy} ${sampler}: --prune ${pruner} vs none, time saved (loop wall; epoch CPU)`,
        `${((1 - p.loopMs / none.loopMs) * 100).toFixed(0)}%; ${((1 - p.epochCpuMs / none.epochCpuMs) * 100).toFixed(0)}%`,
      );
      report(
        `  best loss ${pruner} vs none (${p.pruned} of ${p.epochs} pruned)`,
        `${p.bestLoss?.toFixed(4)} vs ${none.bestLoss?.toFixed(4)}`,
        'equal or lower',
        p.bestLoss !== null && none.bestLoss !== null && p.bestLoss <= none.bestLoss + 1e-12,
      );
    }
  }
}
console.log(`load average after: ${load()}`);
rmSync(dir, { recursive: true, force: true });
