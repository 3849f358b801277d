/**
 * `cjmm hyperopt`, `hyperopt-show`, `hyperopt-list` end to end on the real ETH recording: identical results for
 * equal --seed and -j, resume after a kill equals an uninterrupted run, a throwing loss module is reported
 * with the epoch's parameters and the run goes on, infeasible epochs, the exported file reproduces the
 * in- and out-of-sample figures in `cjmm backtest` and is accepted by `cjmm trade`, --json keys, --report,
 * walk-forward, and usage errors (exit 2) that name the parameter.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { configFromFlags } from '../../src/cli/commands/trade.ts';
import { buildSpace, SpaceError } from '../../src/optimize/space.ts';
import type { StrategyName } from '../../src/strategies/config.ts';
import { loadTradingConfig } from '../../src/trading/config.ts';
import { REPO_ROOT, SEED_ROOT, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-hyperopt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MAIN = join(REPO_ROOT, 'src/cli/main.ts');
const FIX = join(REPO_ROOT, 'test/optimize/fixtures');

function cjmm(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

const BASE = [
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
];

// biome-ignore lint/suspicious/noExplicitAny: JSON documents
type Json = any;

/** The run's JSON with the only wall-clock field (`ms`) removed. */
function withoutMs(j: Json): Json {
  return { ...j, epochs: j.epochs.map(({ ms: _ms, ...e }: Json) => e) };
}

function json(r: ReturnType<typeof cjmm>): Json {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('cjmm hyperopt: usage errors exit 2 naming the parameter and listing the valid ones', () => {
  const cases: [string, string, RegExp][] = [
    [
      'fixed',
      'spread=1:5',
      /--space spread: not a tunable parameter of fixed; valid parameters of fixed .*halfSpreadTicks=0:20:int.*maxPosition/,
    ],
    ['fixed', 'halfSpreadTicks=9:2', /range of halfSpreadTicks is inverted.*valid parameters of fixed/],
    ['fixed', 'halfSpreadTicks=4:4', /range of halfSpreadTicks is empty.*valid parameters/],
    ['fixed', 'maxPosition=0.5:3', /maxPosition is an integer parameter.*valid parameters/],
    ['fixed', 'halfSpreadTicks=wide,narrow', /halfSpreadTicks is numeric.*valid parameters/],
    ['fixed', 'maxPosition=0:3', /maxPosition must be ≥ 1.*valid parameters/],
    ['cj', 'mode=1:3', /mode is categorical \(depth, touch\).*valid parameters of cj .*phi=/],
    ['cj', 'phi=0:1:log', /a :log range of phi needs low > 0.*valid parameters of cj/],
    ['glft', 'xi=-1:1', /xi must be ≥ 0.*valid parameters of glft/],
  ];
  test('space errors name the parameter and list the valid ones', () => {
    for (const [strategy, arg, re] of cases)
      assert.throws(
        () => buildSpace(strategy as StrategyName, [arg]),
        (e: Error) => e instanceof SpaceError && re.test(e.message),
        arg,
      );
    assert.throws(() => buildSpace('fixed', ['halfSpreadTicks', 'halfSpreadBps']), /cannot both be tuned/);
  });
  test('the command exits 2 with a one-line error, before reading any data', () => {
    for (const [strategy, arg, re] of [cases[0], cases[6]]) {
      const r = cjmm(['hyperopt', '--data', dir, '--coin', 'ETH', '--strategy', strategy, '--space', arg]);
      assert.equal(r.status, 2, r.stderr);
      const first = r.stderr.trim().split('\n')[0];
      assert.match(first, re, 'the error is one line');
    }
    const e = cjmm(['hyperopt', '--data', dir, '--coin', 'ETH', '--strategy', 'fixed', '--prune', 'mean']);
    assert.equal(e.status, 2);
    assert.match(e.stderr, /--prune must be one of median\|asha\|none/);
    for (const [flag, value, re] of [
      [
        '--prune-warmup',
        '0.35',
        /--prune-warmup must be a checkpoint of the tape: 0\.1, 0\.2, … 0\.9 \(got 0\.35\)/,
      ],
      ['--prune-warmup', '1', /--prune-warmup must be a checkpoint/],
      ['--prune-startup', '-1', /--prune-startup must be an integer ≥ 0 \(got -1\)/],
      ['--prune-eta', '1', /--prune-eta must be an integer ≥ 2 \(got 1\)/],
    ] as const) {
      const r = cjmm(['hyperopt', '--data', dir, '--coin', 'ETH', '--strategy', 'fixed', flag, value]);
      assert.equal(r.status, 2, `${flag} ${value}`);
      assert.match(r.stderr, re);
    }
  });
});

describe('cjmm hyperopt on the shared ETH recording', { skip: sharedSkip }, () => {
  let A: Json;
  test('equal --seed and -j give identical results (all but the wall-clock ms); another seed differs', () => {
    A = json(cjmm([...BASE, '--epochs', '12', '--seed', '3', '--json', '--results', 'a.sqlite']));
    const B = json(cjmm([...BASE, '--epochs', '12', '--seed', '3', '--json', '--results', 'b.sqlite']));
    assert.deepEqual(withoutMs(B), withoutMs(A));
    assert.equal(A.epochs.length, 12);
    const C = json(cjmm([...BASE, '--epochs', '12', '--seed', '4', '--json', '--results', 'c.sqlite']));
    assert.notDeepEqual(
      C.epochs.map((e: Json) => e.params),
      A.epochs.map((e: Json) => e.params),
    );
  });

  test('--json keys are exactly { best, folds, epochs } with the documented members; metrics as cjmm backtest --json', () => {
    assert.deepEqual(Object.keys(A), ['best', 'folds', 'epochs']);
    assert.deepEqual(Object.keys(A.best), ['params', 'loss', 'metrics', 'outOfSample']);
    assert.deepEqual(Object.keys(A.best.outOfSample), ['loss', 'metrics']);
    assert.deepEqual(Object.keys(A.folds[0]), ['train', 'test', 'best']);
    assert.deepEqual(Object.keys(A.folds[0].train), ['from', 'to']);
    for (const e of A.epochs)
      assert.deepEqual(Object.keys(e), ['n', 'params', 'loss', 'metrics', 'fold', 'ms']);
    const bt = json(
      cjmm(['backtest', '--data', SEED_ROOT, '--coin', 'ETH', '--strategy', 'fixed', '--json']),
    );
    assert.deepEqual(Object.keys(A.best.metrics), Object.keys(bt.metrics));
    // The split: 70 % train, then the held-back 30 %.
    const f = A.folds[0];
    assert.equal(f.train.to, f.test.from);
    const share = (f.train.to - f.train.from) / (f.test.to - f.train.from);
    assert.ok(Math.abs(share - 0.7) < 0.001, `${share}`);
    assert.deepEqual(A.best, f.best);
    const losses = A.epochs.filter((e: Json) => e.loss !== null).map((e: Json) => e.loss);
    assert.equal(A.best.loss, Math.min(...losses));
  });

  test('hyperopt-show --export: cjmm backtest --config reproduces the in- and out-of-sample metrics; cjmm trade accepts it', () => {
    const shown = json(
      cjmm(['hyperopt-show', '--results', 'a.sqlite', '--best', '--export', 'best.json', '--json']),
    );
    assert.deepEqual(shown.params, A.best.params);
    const file = join(dir, 'best.json');
    const f = A.folds[0];
    const bt = (w: Json) =>
      json(
        cjmm([
          'backtest',
          '--data',
          SEED_ROOT,
          '--coin',
          'ETH',
          '--strategy',
          'fixed',
          '--config',
          file,
          '--from',
          String(w.from),
          '--to',
          String(w.to),
          '--json',
        ]),
      );
    assert.deepEqual(bt(f.train).metrics, A.best.metrics, 'in-sample');
    assert.deepEqual(bt(f.test).metrics, A.best.outOfSample.metrics, 'out-of-sample');
    // cjmm trade --config: the same validation `trade` runs before it connects anywhere.
    const cfg = loadTradingConfig(file);
    assert.equal(cfg.coin, 'ETH');
    assert.equal(cfg.strategy.strategy, 'fixed');
    assert.equal((cfg.strategy as Json).halfSpreadTicks, A.best.params.halfSpreadTicks);
    assert.equal((cfg.strategy as Json).maxPosition, A.best.params.maxPosition);
    assert.equal(cfg.maxPosition, A.best.params.maxPosition);
    const viaFlags = configFromFlags({ config: file, dryRun: true });
    assert.deepEqual(viaFlags.strategy, cfg.strategy);
    const help = cjmm(['trade', '--config', file, '--network', 'loopback']);
    assert.equal(help.status, 2, 'reaches the URL check, i.e. the file itself was accepted');
    assert.match(help.stderr, /httpUrl/);
    assert.doesNotMatch(help.stderr, /backtest|unknown field/);
  });

  test('resume after a kill mid-run equals the uninterrupted run', () => {
    const args = [...BASE, '--epochs', '12', '--seed', '3', '--loss', join(FIX, 'env-loss.ts')];
    const counter = join(dir, 'kill-count');
    const killed = cjmm([...args, '--results', 'k.sqlite', '--json'], {
      CJMM_TEST_KILL_FILE: counter,
      CJMM_TEST_KILL_AFTER: '7',
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const resumed = json(cjmm([...args, '--results', 'k.sqlite', '--json', '--resume']));
    const straight = json(cjmm([...args, '--results', 'u.sqlite', '--json']));
    assert.deepEqual(withoutMs(resumed), withoutMs(straight));
    // The custom module computes what the built-in pnl loss computes.
    assert.deepEqual(withoutMs(straight), withoutMs(A));
    // Resuming with other settings is refused, naming the setting.
    const bad = cjmm([...args, '--results', 'k.sqlite', '--seed', '9', '--resume']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--resume: seed differs/);
    const again = cjmm([...args, '--results', 'k.sqlite']);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already holds a run.*--resume/);
    const otherPruner = cjmm([...args, '--results', 'k.sqlite', '--prune-warmup', '0.5', '--resume']);
    assert.equal(otherPruner.status, 2);
    assert.match(
      otherPruner.stderr,
      /--resume: the pruner settings \(--prune-startup, --prune-warmup, --prune-eta\) differs/,
    );
  });

  test('--prune-warmup: no epoch is stopped before that checkpoint; the defaults stop some earlier', () => {
    const prunedSteps = (file: string) => {
      const db = new DatabaseSync(join(dir, file), { readOnly: true });
      const rows = db.prepare("SELECT pruned_step FROM epochs WHERE status = 'pruned'").all() as {
        pruned_step: number;
      }[];
      db.close();
      return rows.map((r) => r.pruned_step);
    };
    const args = [...BASE, '--epochs', '24', '--seed', '1', '--sampler', 'random'];
    cjmm([...args, '--results', 'pw-default.sqlite']);
    const lateRun = cjmm([
      ...args,
      '--results',
      'pw-late.sqlite',
      '--prune-warmup',
      '0.8',
      '--prune-startup',
      '3',
    ]);
    assert.match(lateRun.stdout, /prune median \(startup 3, warm-up 0\.8\)/);
    const byDefault = prunedSteps('pw-default.sqlite');
    const late = prunedSteps('pw-late.sqlite');
    assert.ok(
      byDefault.some((k) => k < 7),
      `default warm-up 0.3 stops epochs early: ${byDefault}`,
    );
    assert.ok(late.length > 0, 'some epochs pruned at 80 % or 90 %');
    assert.ok(
      late.every((k) => k >= 7),
      `checkpoint index 7 = 80 % of the tape: ${late}`,
    );
  });

  test('Ctrl-C keeps the finished epochs and says how to resume; --resume completes the run', async () => {
    const args = [
      ...BASE,
      '--epochs',
      '8',
      '--seed',
      '3',
      '--loss',
      join(FIX, 'env-loss.ts'),
      '--results',
      'int.sqlite',
    ];
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: dir,
      env: { ...process.env, CJMM_TEST_SLOW_MS: '400' },
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const count = () => {
      if (!existsSync(join(dir, 'int.sqlite'))) return 0;
      try {
        const db = new DatabaseSync(join(dir, 'int.sqlite'), { readOnly: true });
        const c = (db.prepare('SELECT count(*) AS c FROM epochs').get() as { c: number }).c;
        db.close();
        return c;
      } catch {
        return 0;
      }
    };
    while (count() < 2) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    assert.equal(await exit, 130, err);
    const kept = Number(
      /interrupted: (\d+) finished epochs are kept in int\.sqlite; continue with the same command plus --resume/.exec(
        err,
      )?.[1],
    );
    assert.ok(kept >= 2 && kept < 8, err);
    assert.equal(count(), kept);
    const done = json(cjmm([...args, '--resume', '--json']));
    assert.equal(done.epochs.length, 8);
    assert.deepEqual(withoutMs(done).epochs, withoutMs(A).epochs.slice(0, 8));
  });

  test('a throwing loss module is reported with the epoch parameters and the run continues', () => {
    const r = cjmm([
      ...BASE,
      '--epochs',
      '10',
      '--seed',
      '3',
      '--loss',
      join(FIX, 'throwing-loss.ts'),
      '--results',
      't.sqlite',
      '--json',
      '--progress',
    ]);
    const out = json(r);
    const odd = out.epochs.filter((e: Json) => e.params.halfSpreadTicks % 2 === 1);
    assert.ok(odd.length > 0, 'some odd half-spreads were tried');
    for (const e of odd) {
      assert.equal(e.loss, null);
      assert.match(
        r.stderr,
        new RegExp(
          `epoch ${e.n} \\(fold 1\\) failed: the loss threw: boom: odd spread; params halfSpreadTicks=${e.params.halfSpreadTicks} maxPosition=${e.params.maxPosition}`,
        ),
      );
    }
    assert.equal(out.epochs.length, 10, 'all epochs ran');
    assert.ok(out.best === null || out.best.params.halfSpreadTicks % 2 === 0);
    const shown = json(cjmm(['hyperopt-show', '--results', 't.sqlite', '-n', String(odd[0].n), '--json']));
    assert.equal(shown.status, 'failed');
    assert.match(shown.error, /boom/);
    assert.match(r.stderr, /epoch \d+\/10/, 'progress bar on stderr');
  });

  test('epochs with fewer fills than --min-fills are infeasible; --train 1 says there is no hold-back', () => {
    const r = cjmm([
      ...BASE,
      '--epochs',
      '4',
      '--min-fills',
      '1000000',
      '--train',
      '1',
      '--prune',
      'none',
      '--results',
      'i.sqlite',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /4 epochs: 0 complete, 0 pruned, 4 infeasible/);
    assert.match(r.stdout, /no feasible epoch/);
    assert.match(r.stdout, /--train 1: the whole range, no out-of-sample test/);
    const list = json(cjmm(['hyperopt-list', '--results', 'i.sqlite', '--json']));
    assert.deepEqual(list, []);
    const show = cjmm(['hyperopt-show', '--results', 'i.sqlite']);
    assert.equal(show.status, 2);
    assert.match(show.stderr, /no feasible epoch/);
  });

  test('walk-forward: folds tile the end of the range, each reported in and out of sample, plus the aggregate; --report', () => {
    const r = cjmm([
      ...BASE,
      '--epochs',
      '6',
      '--walk-forward',
      '2',
      '--train',
      '0.6',
      '--results',
      'wf.sqlite',
      '--report',
      'wf.html',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fold 1\/2: train .* test \(held back\)/);
    assert.match(r.stdout, /fold 2\/2/);
    assert.match(r.stdout, /OUT-OF-SAMPLE \(test, never seen by the search\)/);
    assert.match(r.stdout, /walk-forward aggregate over 2 folds/);
    const list = cjmm(['hyperopt-list', '--results', 'wf.sqlite', '--top', '3']);
    assert.equal(list.status, 0);
    assert.match(list.stdout, /12 epochs/);
    const html = readFileSync(join(dir, 'wf.html'), 'utf8');
    for (const s of [
      'Loss by epoch',
      'Each parameter against the loss',
      'in-sample',
      'out-of-sample',
      'Parameter importances',
      'Top 20 epochs',
      '<svg',
    ])
      assert.ok(html.includes(s), s);
    assert.doesNotMatch(html, /<script|src="http|href="http/);
    assert.ok(existsSync(join(dir, '.cjmm', 'hyperopt', 'last')));
  });
});
