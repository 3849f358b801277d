/**
 * Hyperopt throughput on the shared ETH recording (24 min, 18k events): 100 epochs of `cj` and of `fixed`
 * (their default spaces, random sampler, --prune none so every epoch replays the whole train window) with -j 1
 * and -j 2,
 * each in its own process running the real `cjmm hyperopt` (bench/helpers/cli-run.ts): epochs/s by wall
 * clock and per CPU-second of the process (all threads), speed-up, per-epoch overhead outside the backtest
 * itself (wall − Σ epoch time / threads, per epoch: sampler, dispatch to the thread, result, SQLite write),
 * and peak RSS. Then the same `fixed` run over 2 local `cjmm worker` processes through Redis (when
 * redis-server is installed), and pruning (median, asha) against --prune none at the same seed.
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
for (const strategy of ['fixed', 'cj']) {
  const one = hyperopt(strategy, 1, ['--sampler', 'random']);
  const two = hyperopt(strategy, 2, ['--sampler', 'random']);
  report(
    `${strategy}: -j 1 epochs/s (loop wall; process per CPU-s)`,
    `${rate(one).toFixed(1)}/s; ${perCpu(one)}`,
  );
  report(
    `${strategy}: -j 2 epochs/s (loop wall; process per CPU-s)`,
    `${rate(two).toFixed(1)}/s; ${perCpu(two)}`,
  );
  const speedup = rate(two) / rate(one);
  report(
    `${strategy}: speed-up -j 2 / -j 1 (loop wall)`,
    `${speedup.toFixed(2)}×`,
    '≥ 1.8× on 2 cores',
    speedup >= 1.8,
  );
  report(
    `${strategy}: mean epoch inside the worker, -j 1 / -j 2`,
    `${(one.epochMs / one.epochs).toFixed(1)} / ${(two.epochMs / two.epochs).toFixed(1)} ms`,
  );
  const ohCpu = one.mainCpuMs / one.epochs;
  report(
    `${strategy}: per-epoch dispatch overhead (coordinator CPU), -j 1`,
    `${ohCpu.toFixed(2)} ms`,
    '≤ 5 ms',
    ohCpu <= 5,
  );
  const oh = (one.loopMs - one.epochMs) / one.epochs;
  report(`${strategy}: same, wall time between epochs (load-dependent)`, `${oh.toFixed(2)} ms`);
  report(
    `${strategy}: epoch CPU in the worker, -j 1 / -j 2`,
    `${(one.epochCpuMs / one.epochs).toFixed(1)} / ${(two.epochCpuMs / two.epochs).toFixed(1)} ms`,
  );
  const oh2 = (two.loopMs - two.batchFloorMs) / two.epochs;
  const idle = 1 - two.epochMs / (2 * two.batchFloorMs);
  report(
    `${strategy}: -j 2 overhead per epoch; batch-sync idle`,
    `${oh2.toFixed(2)} ms; ${(idle * 100).toFixed(0)}%`,
  );
  report(
    `${strategy}: whole command -j 1 / -j 2 (read, start, evaluate)`,
    `${(one.wallMs / 1000).toFixed(1)} / ${(two.wallMs / 1000).toFixed(1)} s`,
  );
  const mem = two.maxRssMiB / one.maxRssMiB;
  report(
    `${strategy}: peak RSS -j 1 / -j 2`,
    `${one.maxRssMiB.toFixed(0)} / ${two.maxRssMiB.toFixed(0)} MiB (${mem.toFixed(2)}×)`,
    '-j 2 ≤ 1.3× -j 1',
    mem <= 1.3,
  );
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
