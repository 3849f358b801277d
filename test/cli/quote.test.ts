/** `cjmm quote`: table and JSON output, params file + flag precedence, passive tick rounding, bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { register } from '../../src/cli/commands/quote.ts';
import { CliError } from '../../src/cli/errors.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const EXAMPLE = join(REPO_ROOT, 'examples', 'params.json');
const dir = mkdtempSync(join(tmpdir(), 'cjmm-quote-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The real binary in a child process (exit codes, stdout/stderr as the user sees them). */
function cjmmProcess(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'quote', ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The command in-process, wired as src/cli/main.ts wires it (exitOverride; CliError → its exit code), so
 * the many cases do not each pay a Node start-up.
 */
async function cjmm(...args: string[]) {
  let out = '';
  let err = '';
  const program = new Command()
    .name('cjmm')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (out += s), writeErr: (s) => void (err += s) });
  register(program);
  const log = console.log;
  console.log = (...a: unknown[]) => void (out += `${a.join(' ')}\n`);
  try {
    await program.parseAsync(['node', 'cjmm', 'quote', ...args]);
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, out, err: `cjmm: ${e.message}\n` };
    if (e instanceof CommanderError) return { code: e.exitCode, out, err };
    throw e;
  } finally {
    console.log = log;
  }
}

const BASE = [
  '--lambda-plus',
  '1',
  '--lambda-minus',
  '0.8',
  '--kappa-plus',
  '10',
  '--kappa-minus',
  '12',
  '--epsilon-plus',
  '0.02',
  '--epsilon-minus',
  '0.03',
  '--phi',
  '1e-3',
  '--alpha',
  '1e-3',
  '--q-min',
  '-3',
  '--q-max',
  '4',
  '--horizon',
  '600',
  '--fee',
  '0.0001',
  '--mid',
  '100',
  '--tick',
  '0.01',
];

describe('JSON output', () => {
  test('rows for every q, depths equal to the solver, nulls where not quoted, passive rounding', async () => {
    const r = await cjmm(...BASE, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.horizon, 600);
    assert.equal(j.mode, 'depth');
    assert.equal(j.mid, 100);
    assert.equal(j.tick, 0.01);
    assert.deepEqual(j.toxicity, { plus: 10 * 0.02, minus: 12 * 0.03 });
    assert.deepEqual(j.warnings, []);
    assert.deepEqual(
      j.rows.map((x: { q: number }) => x.q),
      [-3, -2, -1, 0, 1, 2, 3, 4],
    );
    const p = {
      lambdaPlus: 1,
      lambdaMinus: 0.8,
      kappaPlus: 10,
      kappaMinus: 12,
      epsilonPlus: 0.02,
      epsilonMinus: 0.03,
      phi: 1e-3,
      alpha: 1e-3,
      qMin: -3,
      qMax: 4,
      feePerFill: 0.0001 * 100,
    };
    assert.equal(j.params.feePerFill, p.feePerFill);
    const t = solveQuotes(p, { horizon: 600 });
    for (const [i, row] of j.rows.entries()) {
      for (const k of [
        'q',
        'deltaPlus',
        'deltaMinus',
        'bid',
        'ask',
        'bidBps',
        'askBps',
        'h',
        'fillRatePlus',
        'fillRateMinus',
        'drift',
      ]) {
        assert.ok(k in row, `row lacks ${k}`);
      }
      if (i === 0) assert.equal(row.deltaPlus, null);
      else assert.ok(Math.abs(row.deltaPlus - t.deltaPlus[i]) < 1e-12);
      if (i === j.rows.length - 1) {
        assert.equal(row.deltaMinus, null);
        assert.equal(row.bid, null);
        assert.equal(row.bidBps, null);
      } else assert.ok(Math.abs(row.deltaMinus - t.deltaMinus[i]) < 1e-12);
      if (row.ask !== null) {
        // Ask rounded UP to the grid: never below the model price, less than a tick above it.
        const raw = 100 + row.deltaPlus;
        assert.ok(row.ask >= raw - 1e-9 && row.ask < raw + 0.01 + 1e-9, `ask ${row.ask} vs ${raw}`);
        assert.ok(Math.abs(row.ask * 100 - Math.round(row.ask * 100)) < 1e-6, 'ask on the tick grid');
        assert.ok(Math.abs(row.askBps - ((row.ask - 100) / 100) * 1e4) < 1e-9);
      }
      if (row.bid !== null) {
        const raw = 100 - row.deltaMinus;
        assert.ok(row.bid <= raw + 1e-9 && row.bid > raw - 0.01 - 1e-9, `bid ${row.bid} vs ${raw}`);
        assert.ok(Math.abs(row.bid * 100 - Math.round(row.bid * 100)) < 1e-6, 'bid on the tick grid');
      }
      assert.ok(Math.abs(row.drift - (row.fillRateMinus - row.fillRatePlus)) < 1e-15);
    }
  });

  test('stationary touch mode with a 1-tick market: Δ/2 = tick/2', async () => {
    const r = await cjmm(
      ...BASE.slice(0, 20),
      '--horizon',
      'inf',
      '--mode',
      'touch',
      '--tick',
      '0.1',
      '--fee',
      '0',
      '--mid',
      '100',
      '--json',
    );
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.horizon, 'inf');
    assert.equal(j.halfSpread, 0.05);
    assert.equal(j.method, 'ergodic');
    assert.ok(typeof j.growthRate === 'number');
    for (const row of j.rows) {
      if (row.deltaPlus !== null) assert.equal(row.deltaPlus, 0.05);
      if (row.ask !== null) assert.equal(row.ask, 100.1);
    }
  });
});

describe('table output', () => {
  test('header with toxicity, a row per q, and the toxicity warning when κε ≥ 1', async () => {
    const r = await cjmm(...BASE, '--epsilon-minus', '0.1');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.match(r.out, /toxicity κ⁺ε⁺ 0\.200 {2}κ⁻ε⁻ 1\.200/);
    assert.match(r.out, /WARNING: toxicity κ⁻ε⁻ = 1\.200 >= 1: competitive at best/);
    const header = lines.findIndex((l) => /^\s*q\s+ask depth/.test(l));
    assert.ok(header > 0, r.out);
    const rows = lines.slice(header + 1);
    assert.equal(rows.length, 8);
    assert.match(rows[0], /^\s*-3\s+—\s+—\s+—\s+/);
    assert.match(rows[7], /^\s*4\s/);
    assert.match(rows[7], /—\s+—\s+—\s+\S+\s+0\s+\S+$/);
  });

  test('npm start example (examples/params.json) runs and prints prices', () => {
    const r = cjmmProcess('--params', EXAMPLE);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /horizon inf \(stationary\)/);
    assert.match(r.out, /mid 3350 {2}tick 0\.1/);
  });

  test('without --mid: depths only, and it says so', async () => {
    const r = await cjmm(...BASE.slice(0, 20), '--json');
    const j = JSON.parse(r.out);
    assert.equal(j.mid, null);
    assert.ok(j.rows.every((x: { bid: unknown; ask: unknown }) => x.bid === null && x.ask === null));
    assert.ok(j.warnings.some((w: string) => w.startsWith('no mid price')));
  });
});

describe('params file', () => {
  test('calibration output is accepted (unknown keys ignored) and flags override it', async () => {
    const file = join(dir, 'calib.json');
    writeFileSync(
      file,
      JSON.stringify({
        coin: 'ETH',
        at: 1,
        lambdaPlus: 0.9,
        lambdaMinus: 0.7,
        kappaPlus: 8,
        kappaMinus: 9,
        epsilonPlus: 0.01,
        epsilonMinus: 0.02,
        sigma: 0.5,
        moRatePlus: 1,
        moRateMinus: 1,
        stderr: {},
        samples: {},
        markouts: [],
        spread: { tick: 0.1, fracAtOneTick: 0.9, meanHalfSpread: 0.06 },
        toxicityPlus: 0.08,
        source: 'fresh',
      }),
    );
    const r = await cjmm('--params', file, '--kappa-minus', '11', '--mid', '3000', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.params.lambdaPlus, 0.9);
    assert.equal(j.params.kappaMinus, 11);
    assert.equal(j.tick, 0.1, 'tick from the calibration spread');
    assert.equal(j.params.qMin, -10);
    assert.equal(j.params.phi, 0);
    assert.ok(Math.abs(j.params.feePerFill - 0.00015 * 3000) < 1e-12, 'default fee 0.00015 × mid');
  });

  test('a bad params file names the field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ lambdaPlus: 'fast', qMin: 1.5 }));
    const r = await cjmm('--params', file);
    assert.equal(r.code, 2);
    assert.match(r.err, /lambdaPlus: .*number/);
    assert.match(r.err, /qMin: .*int/);
    const missing = await cjmm('--params', join(dir, 'nope.json'));
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--params: cannot read .*ENOENT/);
  });
});

describe('bad input exits non-zero naming the flag and the valid range', () => {
  const cases: [string, string[], RegExp][] = [
    ['κ ≤ 0', ['--kappa-plus', '-1'], /--kappa-plus must be a number > 0 \(got -1\)/],
    ['κ = 0', ['--kappa-minus', '0'], /--kappa-minus must be a number > 0 \(got 0\)/],
    ['λ < 0', ['--lambda-minus', '-0.5'], /--lambda-minus must be a number >= 0 \(got -0.5\)/],
    ['NaN', ['--phi', 'NaN'], /--phi must be a number \(got NaN\)/],
    ['q-min > q-max', ['--q-min', '5', '--q-max', '3'], /--q-min must be <= --q-max/],
    ['non-integer bound', ['--q-max', '2.5'], /--q-max must be an integer \(got 2.5\)/],
    ['horizon', ['--horizon', '-5'], /--horizon must be a number of seconds > 0 or inf \(got -5\)/],
    [
      'horizon not a number',
      ['--horizon', 'abc'],
      /--horizon must be a number of seconds > 0 or inf \(got abc\)/,
    ],
    ['elapsed > horizon', ['--elapsed', '700'], /--elapsed must be in \[0, horizon\]/],
    ['mode', ['--mode', 'deep'], /--mode must be depth or touch \(got deep\)/],
    [
      'stationary with a dead side',
      ['--lambda-plus', '0', '--horizon', 'inf'],
      /--lambda-plus must be > 0 for stationary quotes/,
    ],
    ['touch without spread', ['--mode', 'touch', '--tick', '0'], /--tick must be a price increment > 0/],
  ];
  for (const [name, args, re] of cases) {
    test(name, async () => {
      const r = await cjmm(...BASE, ...args);
      assert.equal(r.code, 2, `${r.out}${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.out, '');
    });
  }
  test('real process: exit code 2, the message on one line, then the usage line', () => {
    const r = cjmmProcess(...BASE, '--kappa-plus', '-1');
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      'cjmm: --kappa-plus must be a number > 0 (got -1)\nusage: cjmm quote [options] (cjmm quote --help for details)\n',
    );
    assert.equal(r.out, '');
  });
  test('missing parameter', async () => {
    const r = await cjmm('--lambda-plus', '1');
    assert.equal(r.code, 2);
    assert.match(r.err, /--lambda-minus is required/);
  });
  test('unknown flag', async () => {
    const r = await cjmm(...BASE, '--gamma', '1');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /unknown option '--gamma'/);
  });
});

describe('drift, depth model and inventory target', () => {
  /** A calibration output with standard errors, the ε covariance and two-part fits (ETH-like). */
  function calibrationFile(): string {
    const file = join(dir, 'calib-full.json');
    const side = (touchRate: number, touchShare: number, kappaTail: number) => ({
      use: 'two-part',
      n: 1000,
      seconds: 1000,
      exponential: null,
      twoPart: {
        n: 1000,
        touchRate,
        touchShare,
        kappaTail,
        touchRateStderr: 0.03,
        touchShareStderr: 0.01,
        kappaTailStderr: 0.2,
        logLik: 0,
        aic: 0,
        chi2: 0,
        df: 1,
        pValue: 0.3,
      },
      likelihoodRatio: 600,
      lrPValue: 0,
      levels: [],
    });
    writeFileSync(
      file,
      JSON.stringify({
        coin: 'ETH',
        at: 1,
        lambdaPlus: 1.6,
        lambdaMinus: 1.1,
        kappaPlus: 8.4,
        kappaMinus: 8.6,
        epsilonPlus: 0.117,
        epsilonMinus: 0.147,
        sigma: 0.45,
        moRatePlus: 1,
        moRateMinus: 0.7,
        stderr: {
          lambdaPlus: 0.05,
          lambdaMinus: 0.04,
          kappaPlus: 0.3,
          kappaMinus: 0.3,
          epsilonPlus: 0.023,
          epsilonMinus: 0.037,
          sigma: 0.02,
          moRatePlus: 0.03,
          moRateMinus: 0.02,
        },
        samples: {},
        markouts: [
          {
            horizon: '1s',
            horizonSec: 1,
            plus: { mean: 0.117, stderr: 0.023, n: 1000 },
            minus: { mean: 0.147, stderr: 0.037, n: 700 },
            covariance: -0.0004,
          },
        ],
        markoutHorizon: '1s',
        spread: { tick: 0.1, fracAtOneTick: 0.9, meanHalfSpread: 0.06 },
        depthModel: { plus: side(0.98, 0.84, 2.76), minus: side(0.65, 0.83, 2.65) },
        source: 'fresh',
      }),
    );
    return file;
  }

  test('a calibration file: shrink drops an insignificant D, two-part depths on the grid, φ from --inventory-std', async () => {
    const file = calibrationFile();
    const r = await cjmm('--params', file, '--mid', '3000', '--inventory-std', '2', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.ok(Math.abs(j.drift.model - (1.6 * 0.117 - 1.1 * 0.147)) < 1e-12);
    assert.ok(j.drift.stderr > 0.05 && j.drift.used === 0 && j.drift.policy === 'shrink');
    assert.equal(j.params.drift, 0);
    assert.deepEqual(j.depthModel, { plus: 'two-part', minus: 'two-part' });
    assert.equal(j.inventory.phiSource, 'target');
    assert.equal(j.inventory.status, 'met');
    // At most the target; close to it (with tick levels the law jumps as φ moves a quote a level).
    assert.ok(j.inventory.rms <= 2 && j.inventory.rms > 1.9, `rms ${j.inventory.rms}`);
    assert.equal(j.params.phi, j.inventory.phi);
    const row = j.rows.find((x: { q: number }) => x.q === 0);
    for (const d of [row.deltaPlus, row.deltaMinus])
      assert.ok(Math.abs(((d - 0.05) / 0.1) % 1) < 1e-9, `${d}`);
    assert.equal(j.drift.dominates, false);
    assert.equal(j.drift.dominatesWithModel, true, 'the estimated D would dominate at this φ');
    assert.ok(j.warnings.some((w: string) => /with --drift model, D = .* would dominate the quotes/.test(w)));
    // --drift model uses D as estimated and warns that it dominates; exponential fills give off-grid depths.
    const m = JSON.parse(
      (
        await cjmm(
          '--params',
          file,
          '--mid',
          '3000',
          '--phi',
          '0.001',
          '--drift',
          'model',
          '--depth-model',
          'exponential',
          '--json',
        )
      ).out,
    );
    assert.equal(m.drift.used, m.drift.model);
    assert.equal(m.params.drift, undefined, 'drift: model leaves D to the model');
    assert.ok(
      m.drift.dominates && m.warnings.some((w: string) => /the drift D dominates the quotes/.test(w)),
    );
    assert.deepEqual(m.depthModel, { plus: 'exponential', minus: 'exponential' });
    const t = solveQuotes({ ...m.params }, { horizon: Number.POSITIVE_INFINITY });
    assert.ok(Math.abs(m.rows[10].deltaPlus - t.deltaPlus[10]) < 1e-12);
    // --drift-se overrides the file's SE: a tiny SE keeps almost all of D.
    const se = JSON.parse((await cjmm('--params', file, '--drift-se', '0.001', '--json')).out);
    assert.ok(Math.abs(se.drift.used / se.drift.model - (1 - (0.001 / se.drift.model) ** 2)) < 1e-12);
  });

  test('flags without a calibration: D as given (no SE), φ as given; bad values name the flag', async () => {
    const j = JSON.parse((await cjmm(...BASE, '--phi', '0.002', '--json')).out);
    assert.equal(j.drift.stderr, null);
    assert.equal(j.drift.used, j.drift.model);
    assert.equal(j.inventory.phiSource, 'given');
    for (const [args, msg] of [
      [['--drift', 'up'], /--drift must be model, shrink or zero \(got up\)/],
      [['--depth-model', 'two-part'], /--depth-model two-part needs the fits of a calibration file/],
      [['--inventory-std', '-1'], /--inventory-std must be a number of lots > 0/],
      [['--max-time-at-bound', '1.5'], /--max-time-at-bound must be a fraction in \(0, 1\)/],
      [['--phi', '0.01', '--inventory-std', '2'], /give --phi or an inventory target/],
    ] as const) {
      const r = await cjmm(...BASE, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });
});
