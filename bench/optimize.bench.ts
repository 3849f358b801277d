/**
 * Hyperopt throughput on the shared ETH recording (24 min, 18k events): 100 epochs of `cj` and of `fixed`
 * (their default spaces, random sampler, --prune none so every epoch replays the whole train window; no batch
 * barrier then) with -j 1 and -j 2, in both tape modes (--tape-mode objects: event objects made once per
 * thread, what `auto` picks for this data; columns: the shared columns read in place), each in its own
 * process running the real `cjmm hyperopt` (bench/helpers/cli-run.ts): epochs/s by wall clock and per
 * CPU-second of the process (all threads), speed-up, CPU per epoch in its thread, utilisation (Σ epoch CPU /
 * (loop wall × jobs): what the load leaves us), per-epoch overhead outside the backtest itself (coordinator
 * CPU per epoch: sampler, dispatch to the thread, result, SQLite write), and peak RSS. Per thread class
 * (Linux /proc, steady state): CPU per epoch of the epoch threads, of V8's helper threads (GC, JIT) and of
 * the coordinator, and from them the speed-up the CPU work allows on 2 idle cores — a load-independent
 * figure (-j 1 gets its helpers' and the coordinator's CPU from the second core for free; -j 2 pays for all
 * of it). Then the default command (TPE, --prune median: a batch barrier) at -j 1 and -j 2. Then the same `fixed`
 * run over 2 local `cjmm worker` processes through Redis (when redis-server is installed), and pruning
 * (median, asha) against --prune none at the same seed, with the batch barrier's cost where it applies
 * (TPE): Σ epoch CPU / (jobs × Σ per batch of its costliest epoch's CPU), independent of the load, and
 * TPE with --lag 1 (no barrier) against it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { hasRedis, startRedis } from '../test/helpers/redis.ts';
import { SEED_ETH, SEED_ROOT } from '../test/helpers/shared.ts';
import { recording, tiledStore } from './helpers/synthetic-store.ts';
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
  /**
   * Steady state (from the 2 × jobs-th finished epoch to the last): CPU per epoch of the epoch threads, of V8's
   * helper threads (parallel/concurrent GC, JIT compilation), of the coordinating main thread, ms (Linux
   * /proc/<pid>/task sampled every 25 ms; null elsewhere).
   */
  threadCpu: { epochThreads: number; v8Helpers: number; main: number } | null;
  /**
   * The same per thread class, over the first and the second half of the finished epochs (from the first
   * epoch on): each thread's isolate compiles the replay itself (JIT warm-up, on the helpers and as slower
   * first epochs), so the first half carries it and the second half is close to the steady state.
   */
  threadCpuHalves: [ThreadSample[1], ThreadSample[1]] | null;
}

type ThreadSample = [number, { epochThreads: number; v8Helpers: number; main: number }];

/** CPU (ms) per thread class of a running process, from /proc (Linux). */
function threadCpu(pid: number): ThreadSample[1] | null {
  const o = { epochThreads: 0, v8Helpers: 0, main: 0 };
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const t of tasks) {
    let st: string;
    try {
      st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10; // utime + stime, clock ticks of 10 ms
    if (t === String(pid)) o.main += ms;
    else if (comm.startsWith('WorkerThread')) o.epochThreads += ms;
    else if (comm.startsWith('V8Worker')) o.v8Helpers += ms;
  }
  return o;
}

let seq = 0;
async function hyperopt(
  strategy: string,
  jobs: number,
  extra: string[] = [],
  data: string = SEED_ROOT,
): Promise<Run> {
  const results = join(dir, `r${seq++}.sqlite`);
  const args = [
    HELPER,
    'hyperopt',
    '--data',
    data,
    '--coin',
    'ETH',
    '--strategy',
    strategy,
    ...(extra.includes('--epochs') ? [] : ['--epochs', String(EPOCHS)]),
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
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const samples: ThreadSample[] = [];
  const sampler = setInterval(() => {
    const c = child.pid !== undefined ? threadCpu(child.pid) : null;
    if (c) samples.push([Date.now(), c]);
  }, 25);
  const status = await new Promise<number | null>((res) => child.on('close', res));
  clearInterval(sampler);
  const r = { status, stdout, stderr };
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
  // Steady-state thread CPU: between the sample before the (2 × jobs)-th epoch finished and the one before the last.
  const rows = db.prepare('SELECT finished_at AS f, ms FROM epochs ORDER BY finished_at').all() as {
    f: number;
    ms: number;
  }[];
  const finished = rows.map((x) => Number(x.f));
  /** When the first epoch started (its end less its duration). */
  const loopStart = rows.length > 0 ? Number(rows[0].f) - Number(rows[0].ms) : Number.NaN;
  db.close();
  const before = (t: number) => {
    let s: ThreadSample | undefined;
    for (const x of samples) if (x[0] <= t) s = x;
    return s;
  };
  const k0 = Math.min(2 * jobs, finished.length - 2);
  const a = k0 >= 0 ? before(finished[k0]) : undefined;
  const b = before(finished[finished.length - 1]);
  const inWindow = a && b ? finished.filter((f) => f > a[0] && f <= b[0]).length : 0;
  const threads =
    a && b && inWindow >= 10
      ? {
          epochThreads: (b[1].epochThreads - a[1].epochThreads) / inWindow,
          v8Helpers: (b[1].v8Helpers - a[1].v8Helpers) / inWindow,
          main: (b[1].main - a[1].main) / inWindow,
        }
      : null;
  // Halves: from the sample before the first epoch started to the middle one, and from there to the last.
  const perEpoch = (x: ThreadSample, y: ThreadSample): ThreadSample[1] | null => {
    const n = finished.filter((f) => f > x[0] && f <= y[0]).length;
    return n >= 5
      ? {
          epochThreads: (y[1].epochThreads - x[1].epochThreads) / n,
          v8Helpers: (y[1].v8Helpers - x[1].v8Helpers) / n,
          main: (y[1].main - x[1].main) / n,
        }
      : null;
  };
  const h0 = finished.length > 0 ? before(loopStart) : undefined;
  const hm = finished.length > 0 ? before(finished[Math.floor(finished.length / 2)]) : undefined;
  const first = h0 && hm ? perEpoch(h0, hm) : null;
  const second = hm && b ? perEpoch(hm, b) : null;
  return {
    ...m,
    threadCpuHalves: first && second ? [first, second] : null,
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
    threadCpu: threads,
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
      runs[`${mode}${j}`] = await hyperopt(strategy, j, ['--sampler', 'random', '--tape-mode', mode]);
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
    const t1 = one.threadCpu;
    const t2 = two.threadCpu;
    if (t1 && t2) {
      const fmt = (t: NonNullable<Run['threadCpu']>) =>
        `${t.epochThreads.toFixed(1)} + ${t.v8Helpers.toFixed(1)} + ${t.main.toFixed(1)}`;
      report(
        `${tag}: CPU per epoch, epoch threads + V8 helpers (GC, JIT) + coordinator, -j 1 / -j 2`,
        `${fmt(t1)} / ${fmt(t2)} ms`,
      );
      // On an idle 2-core machine -j 1 runs at most 1 / (its epoch thread's CPU per epoch): its helper threads
      // and the coordinator use the other core for free; -j 2 at most 2 / (all the CPU per epoch). The ratio is
      // the speed-up the CPU work allows, whatever the machine's load now.
      const ceiling = (2 * t1.epochThreads) / (t2.epochThreads + t2.v8Helpers + t2.main);
      report(
        `${tag}: speed-up the CPU per epoch allows on 2 idle cores (2 × -j 1 epoch thread / -j 2 all threads)`,
        `${ceiling.toFixed(2)}×`,
      );
    }
    const h1 = one.threadCpuHalves;
    const h2 = two.threadCpuHalves;
    if (h1 && h2) {
      const fmt = (t: ThreadSample[1]) =>
        `${t.epochThreads.toFixed(1)} + ${t.v8Helpers.toFixed(1)} + ${t.main.toFixed(1)}`;
      report(
        `${tag}: same, first half | second half of the epochs (JIT warm-up per thread isolate), -j 1; -j 2`,
        `${fmt(h1[0])} | ${fmt(h1[1])}; ${fmt(h2[0])} | ${fmt(h2[1])} ms`,
      );
      const all = (t: ThreadSample[1]) => t.epochThreads + t.v8Helpers + t.main;
      // -j 1 and -j 2 runs propose different parameter sets (batches of -j), so per half their epochs may differ in
      // cost (cj: ±10 %): a rough figure; the components above show the warm-up itself.
      report(
        `${tag}: speed-up the CPU allows, first half | second half (warm-up mostly done; rough, other epochs per -j)`,
        `${((2 * h1[0].epochThreads) / all(h2[0])).toFixed(2)}× | ${((2 * h1[1].epochThreads) / all(h2[1])).toFixed(2)}×`,
      );
    }
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

// The same pool on longer epochs: a day of data (the recording tiled 80 times, 1.47 M events, as in
// bench/backtest.bench.ts), 16 epochs. On the 24-min recording an epoch is 10–15 ms, so each thread's JIT
// warm-up (its isolate compiles the whole replay again: slower first epochs, compiles on V8's helper threads)
// is a large share of a 100-epoch run; here it is amortised, and what is left is the pool's own scaling.
{
  const day = await tiledStore(await recording(SEED_ETH), 80);
  for (const strategy of ['fixed', 'cj']) {
    const args = ['--sampler', 'random', '--epochs', '16'];
    const one = await hyperopt(strategy, 1, args, day);
    const two = await hyperopt(strategy, 2, args, day);
    report(
      `${strategy}, a day of data (16 epochs of ${(cpuPerEpoch(one) / 1000).toFixed(2)} s CPU): epochs/s -j 1 / -j 2 (loop wall); speed-up`,
      `${rate(one).toFixed(2)} / ${rate(two).toFixed(2)}; ${(rate(two) / rate(one)).toFixed(2)}×`,
    );
  }
  console.log(`  (load average now: ${load()})`);
}

// The default command: TPE with median pruning, so batches of -j wait for their slowest epoch. -j 1 and -j 2
// propose different batches (different trajectories, possibly costlier parameters): a user's view, not a
// like-for-like of the same epochs.
for (const strategy of ['fixed', 'cj']) {
  const one = await hyperopt(strategy, 1, ['--prune', 'median', '--sampler', 'tpe']);
  const two = await hyperopt(strategy, 2, ['--prune', 'median', '--sampler', 'tpe']);
  report(
    `${strategy} default (tpe, --prune median): epochs/s -j 1 / -j 2 (loop wall); speed-up`,
    `${rate(one).toFixed(1)} / ${rate(two).toFixed(1)}; ${(rate(two) / rate(one)).toFixed(2)}×`,
  );
  report(
    `${strategy} default: coordinator CPU per epoch (TPE proposals, pruning, dispatch, writes), -j 1 / -j 2`,
    `${(one.mainCpuMs / one.epochs).toFixed(2)} / ${(two.mainCpuMs / two.epochs).toFixed(2)} ms`,
  );
}
console.log(`  (load average now: ${load()})`);

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
    await hyperopt('fixed', 2, ['--queue', redis.url, '--epochs', '4']);
    const local = await hyperopt('fixed', 2, ['--sampler', 'random']);
    const dist = await hyperopt('fixed', 2, ['--sampler', 'random', '--queue', redis.url]);
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
    const none = await hyperopt(strategy, 2, ['--prune', 'none', '--sampler', sampler]);
    if (sampler === 'tpe') {
      report(
        `${strategy} tpe -j 2 --prune none: cores the batch barrier leaves busy (epoch CPU); utilisation`,
        `${(barrierUse(none) * 100).toFixed(0)} %; ${(utilisation(none) * 100).toFixed(0)} %`,
      );
      const lagged = await hyperopt(strategy, 2, ['--prune', 'none', '--sampler', sampler, '--lag', '1']);
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
      const p = await hyperopt(strategy, 2, ['--prune', pruner, '--sampler', sampler]);
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
// JIT events of a whole 40-epoch `-j 1` process (coordinator and epoch thread), counted in V8's traces
// (--trace-deopt --trace-opt): optimised code thrown away at once because a dependency changed (a field's
// representation, a map, Array.prototype's map: src/util/shapes.ts), eager deopts, optimising compiles
// (Maglev and TurboFan). Each worker thread pays these again; a shape regression in the replay shows here.
async function jitEvents(strategy: string): Promise<{ lazy: number; eager: number; compiles: number }> {
  const args = [
    '--trace-deopt',
    '--trace-opt',
    HELPER,
    'hyperopt',
    '--data',
    SEED_ROOT,
    '--coin',
    'ETH',
    '--strategy',
    strategy,
    '--epochs',
    '40',
    '-j',
    '1',
    '--seed',
    '1',
    '--sampler',
    'random',
    '--prune',
    'none',
    '--results',
    join(dir, `jit-${strategy}.sqlite`),
    '--json',
  ];
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  const n = { lazy: 0, eager: 0, compiles: 0 };
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      if (l.startsWith('[marking dependent code')) n.lazy++;
      else if (l.startsWith('[bailout (kind: deopt-eager')) n.eager++;
      else if (l.startsWith('[completed compiling') || l.startsWith('[completed optimizing')) n.compiles++;
    }
  });
  const status = await new Promise<number | null>((res) => child.on('close', res));
  if (status !== 0) throw new Error(`hyperopt (JIT trace) failed: ${status}`);
  return n;
}
for (const strategy of ['fixed', 'cj']) {
  const n = await jitEvents(strategy);
  report(
    `${strategy} hyperopt -j 1, 40 epochs, whole process: dependency deopts; eager deopts; optimising compiles`,
    `${n.lazy}; ${n.eager}; ${n.compiles}`,
  );
}
console.log(`load average after: ${load()}`);
rmSync(dir, { recursive: true, force: true });
