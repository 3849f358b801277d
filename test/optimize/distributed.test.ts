/**
 * Distributed hyperopt on BullMQ/Redis with real `cjmm worker` processes: the results equal the local run's
 * for the same seed and -j; a worker killed (SIGKILL) in the middle of an epoch has that epoch retried on
 * another worker after its lock expires, and the epoch is counted once. Each test starts its own
 * redis-server on a free port (skipped when redis-server is not installed).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { type RedisServer, redisSkip, startRedis } from '../helpers/redis.ts';
import { REPO_ROOT, SEED_ROOT, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-dist-'));
const MAIN = join(REPO_ROOT, 'src/cli/main.ts');
const LOSS = join(REPO_ROOT, 'test/optimize/fixtures/env-loss.ts');
const ARGS = [
  'hyperopt',
  '--data',
  SEED_ROOT,
  '--coin',
  'ETH',
  '--strategy',
  'fixed',
  '--space',
  'halfSpreadTicks=0:12:int',
  '--space',
  'maxPosition=1:6',
  '--min-fills',
  '5',
  '-j',
  '2',
  '--seed',
  '5',
  '--loss',
  LOSS,
  '--json',
];

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: dir, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function until(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function finished(p: Proc): Promise<string> {
  const e = await p.exit;
  assert.equal(e.code, 0, p.stderr());
  return p.stdout();
}

async function stopWorker(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await p.exit;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON documents
const withoutMs = (j: any) => ({ ...j, epochs: j.epochs.map(({ ms: _ms, ...e }: any) => e) });

function stored(file: string): { n: number; worker: string | null }[] {
  const db = new DatabaseSync(join(dir, file), { readOnly: true });
  const rows = db.prepare('SELECT n, worker FROM epochs ORDER BY n').all() as {
    n: number;
    worker: string | null;
  }[];
  db.close();
  return rows;
}

function runId(file: string): string {
  const db = new DatabaseSync(join(dir, file), { readOnly: true });
  const row = db.prepare("SELECT value FROM meta WHERE key = 'runId'").get() as { value: string };
  db.close();
  return JSON.parse(row.value);
}

describe('distributed hyperopt (BullMQ on redis-server)', { skip: redisSkip || sharedSkip }, () => {
  let redis: RedisServer;
  const procs: Proc[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('two cjmm worker processes give exactly the local run (same --seed and -j)', async () => {
    const local = JSON.parse(await finished(start([...ARGS, '--epochs', '8', '--results', 'local.sqlite'])));
    const w1 = start(['worker', '--queue', redis.url, '-j', '1']);
    const w2 = start(['worker', '--queue', redis.url, '-j', '1']);
    procs.push(w1, w2);
    const dist = JSON.parse(
      await finished(start([...ARGS, '--epochs', '8', '--queue', redis.url, '--results', 'dist.sqlite'])),
    );
    // No batch barrier (random proposals, no pruning): the coordinator keeps 2 × -j epochs on the queue.
    const stream = [...ARGS, '--epochs', '12', '--sampler', 'random', '--prune', 'none'];
    const localStream = JSON.parse(await finished(start([...stream, '--results', 'local-stream.sqlite'])));
    const distStream = JSON.parse(
      await finished(start([...stream, '--queue', redis.url, '--results', 'dist-stream.sqlite'])),
    );
    await Promise.all([stopWorker(w1), stopWorker(w2)]);
    assert.deepEqual(withoutMs(dist), withoutMs(local));
    assert.deepEqual(withoutMs(distStream), withoutMs(localStream), 'random sampler, --prune none');
    const workers = new Set(stored('dist.sqlite').map((r) => (r.worker ?? '').split(' ')[0]));
    assert.equal(workers.size, 2, `both workers ran epochs: ${[...workers].join(', ')}`);
    assert.match(w1.stderr(), /epoch \d+ \(run /);
  });

  test('a worker killed mid-epoch: the epoch is retried on another worker and counted once', async () => {
    const local = JSON.parse(await finished(start([...ARGS, '--epochs', '4', '--results', 'local4.sqlite'])));
    const coord = start([...ARGS, '--epochs', '4', '--queue', redis.url, '--results', 'die.sqlite']);
    procs.push(coord);
    // Worker A blocks 20 s in the loss of every epoch: it holds its first epoch when killed.
    const a = start(['worker', '--queue', redis.url, '-j', '1', '--lock-duration', '2000'], {
      CJMM_TEST_SLOW_MS: '20000',
    });
    procs.push(a);
    await until('worker A to load the data', () => /events in shared memory/.test(a.stderr()));
    await new Promise((r) => setTimeout(r, 1500)); // the epoch's replay is done, the loss is blocking
    a.child.kill('SIGKILL');
    await a.exit;
    assert.doesNotMatch(a.stderr(), /epoch \d+ \(run .*\) ok/, 'A finished nothing');
    const b = start(['worker', '--queue', redis.url, '-j', '1', '--lock-duration', '2000']);
    procs.push(b);
    const dist = JSON.parse(await finished(coord));
    await stopWorker(b);
    assert.deepEqual(withoutMs(dist), withoutMs(local));
    const rows = stored('die.sqlite');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2, 3, 4],
      'four epochs, each once',
    );
    const q = new Queue('cjmm-hyperopt', { connection: { url: redis.url } });
    try {
      const id = runId('die.sqlite');
      const jobs = await Promise.all([1, 2, 3, 4].map((n) => q.getJob(`${id}-1-${n}`)));
      const retried = jobs.filter((j) => j && j.stalledCounter > 0);
      assert.equal(retried.length, 1, 'exactly the killed epoch was taken back from the dead worker');
      assert.ok(
        rows.every((r) => (r.worker ?? '').includes(`:${b.child.pid} `)),
        'every stored epoch ran on B',
      );
    } finally {
      await q.close();
    }
  });
});
