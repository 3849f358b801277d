/**
 * The signals in the CLI: `cjmm calibrate` adds the regime model (`regimes`) and the micro-price
 * (`microprice`) to its JSON without touching any existing key; `cjmm quote --regimes` prints one table per
 * regime, equal to the regime solver, and leaves the plain output as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { register as registerCalibrate } from '../../src/cli/commands/calibrate.ts';
import { register as registerQuote } from '../../src/cli/commands/quote.ts';
import { CliError } from '../../src/cli/errors.ts';
import { solveRegimeQuotes } from '../../src/model/regime.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-signals-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The commands in-process, wired as src/cli/main.ts wires them (CliError → its exit code). */
async function cjmm(...args: string[]) {
  let out = '';
  let err = '';
  const program = new Command()
    .name('cjmm')
    .exitOverride()
    .configureOutput({ writeOut: (x) => void (out += x), writeErr: (x) => void (err += x) });
  registerCalibrate(program);
  registerQuote(program);
  const log = console.log;
  console.log = (...a: unknown[]) => void (out += `${a.join(' ')}\n`);
  try {
    await program.parseAsync(['node', 'cjmm', ...args]);
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, out, err: `cjmm: ${e.message}\n` };
    if (e instanceof CommanderError) return { code: e.exitCode, out, err };
    throw e;
  } finally {
    console.log = log;
  }
}

const regimeFile = {
  thresholds: [0.4, 0.6],
  generator: [
    [0, 0.5, 0.1],
    [0.4, 0, 0.4],
    [0.1, 0.5, 0],
  ],
  params: [
    {
      lambdaPlus: 0.8,
      lambdaMinus: 1.4,
      kappaPlus: 12,
      kappaMinus: 8,
      epsilonPlus: 0.01,
      epsilonMinus: 0.05,
    },
    { lambdaPlus: 1, lambdaMinus: 1, kappaPlus: 10, kappaMinus: 10, epsilonPlus: 0.02, epsilonMinus: 0.02 },
    {
      lambdaPlus: 1.4,
      lambdaMinus: 0.8,
      kappaPlus: 8,
      kappaMinus: 12,
      epsilonPlus: 0.05,
      epsilonMinus: 0.01,
    },
  ],
};

describe('cjmm quote --regimes', () => {
  test('a hand-written regime file: one table per regime, equal to the regime solver', async () => {
    const file = join(dir, 'regimes.json');
    writeFileSync(file, JSON.stringify(regimeFile));
    const r = await cjmm(
      'quote',
      '--regimes',
      file,
      '--phi',
      '0.002',
      '--q-max',
      '4',
      '--q-min',
      '-4',
      '--json',
    );
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.rows, undefined, 'no pooled λ±, κ±, ε± given: no pooled table');
    const base = { phi: 0.002, alpha: 0, qMin: -4, qMax: 4, feePerFill: 0 };
    const truth = solveRegimeQuotes(
      { regimes: regimeFile.params.map((p) => ({ ...base, ...p })), generator: regimeFile.generator.flat() },
      { horizon: Number.POSITIVE_INFINITY },
    );
    assert.equal(j.regimeModel.regimes.length, 3);
    for (let z = 0; z < 3; z++) {
      const rep = j.regimeModel.regimes[z];
      assert.deepEqual(
        rep.imbalance,
        [
          [0, 0.4],
          [0.4, 0.6],
          [0.6, 1],
        ][z],
      );
      for (let i = 0; i < 9; i++) {
        const dp = truth.tables[z].deltaPlus[i];
        assert.equal(rep.rows[i].deltaPlus, Number.isFinite(dp) ? dp : null);
        assert.equal(
          rep.rows[i].deltaMinus,
          Number.isFinite(truth.tables[z].deltaMinus[i]) ? truth.tables[z].deltaMinus[i] : null,
        );
      }
    }
    assert.ok(Math.abs(j.regimeModel.stationary.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-12);
    assert.ok(Math.abs(j.regimeModel.generator[0][0] + 0.6) < 1e-12, 'the diagonal is minus the row sum');
    const table = await cjmm('quote', '--regimes', file, '--phi', '0.002', '--mid', '300', '--tick', '0.01');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /== regime 0: I in \[0\.000, 0\.400\)/);
    assert.match(table.out, /== regime 2: I in \[0\.600, 1\.000\)/);
  });

  test('a bad regime file names the field; touch mode is refused', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        ...regimeFile,
        generator: [
          [0, 1],
          [1, 0],
        ],
      }),
    );
    const r = await cjmm('quote', '--regimes', bad);
    assert.equal(r.code, 2);
    assert.match(r.err, /generator: must be 3×3/);
    const file = join(dir, 'regimes.json');
    writeFileSync(file, JSON.stringify(regimeFile));
    const t = await cjmm('quote', '--regimes', file, '--mode', 'touch', '--tick', '0.01');
    assert.equal(t.code, 2);
    assert.match(t.err, /--regimes needs --mode depth/);
  });
});

describe('cjmm calibrate: regimes and micro-price in the output', { skip: sharedSkip }, () => {
  test('new keys added, every existing key unchanged; the output feeds quote --params and --regimes', async () => {
    const out = join(dir, 'eth.json');
    const full = await cjmm('calibrate', '--data', SEED_ETH, '--coin', 'ETH', '--json', '--out', out);
    assert.equal(full.code, 0, full.err);
    const plain = await cjmm(
      'calibrate',
      '--data',
      SEED_ETH,
      '--coin',
      'ETH',
      '--json',
      '--regimes',
      '0',
      '--imbalance-buckets',
      '0',
    );
    assert.equal(plain.code, 0, plain.err);
    const a = JSON.parse(full.out);
    const b = JSON.parse(plain.out);
    assert.equal(b.regimes, undefined);
    assert.equal(b.microprice, undefined);
    const { regimes, microprice, ...rest } = a;
    // With a regime model, `quoting` gains `regimes` (cj with signal: imbalance on it); nothing else changes.
    const { regimes: regimeQuoting, ...quoting } = rest.quoting;
    assert.deepEqual({ ...rest, quoting }, b, 'the regime model and micro-price change no existing key');
    assert.equal(regimeQuoting.regimes.length, 3);
    assert.equal(regimes.count, 3);
    assert.equal(regimes.params.length, 3);
    for (const p of regimes.params)
      for (const k of ['lambdaPlus', 'lambdaMinus', 'kappaPlus', 'kappaMinus', 'epsilonPlus', 'epsilonMinus'])
        assert.ok(Number.isFinite(p[k]) && Number.isFinite(p.stderr[k]), `${k}`);
    assert.equal(microprice.adjustment.length, 2);
    assert.equal(microprice.adjustment[0].length, 10);
    assert.ok(microprice.converged);
    // The file works for both: the pooled table is unchanged by --regimes, the regime tables are added.
    const q1 = await cjmm('quote', '--params', out, '--mid', '3350', '--json');
    const q2 = await cjmm('quote', '--params', out, '--regimes', out, '--mid', '3350', '--json');
    assert.equal(q1.code, 0, q1.err);
    assert.equal(q2.code, 0, q2.err);
    const j1 = JSON.parse(q1.out);
    const { regimeModel, ...pooled } = JSON.parse(q2.out);
    assert.deepEqual(pooled, j1);
    assert.equal(regimeModel.regimes.length, 3);
    const human = await cjmm('calibrate', '--data', SEED_ETH, '--coin', 'ETH');
    assert.match(human.out, /imbalance regimes/);
    assert.match(human.out, /micro-price \(Stoikov 2018\)/);
    // cj with signal: imbalance on the regime model: φ on the joint law, the pooled φ's law, per-regime D and
    // the dominance warning (on the whole window, D_2 = 0.40 ± 0.24 would dominate regime 2's quotes unshrunk).
    assert.match(
      human.out,
      /cj signal: imbalance \(same defaults; φ from the target on the joint \(inventory, regime\) law\): φ [\d.e-]+ \(met; inventory RMS 2\.00 lots, at bounds [\d.]+ %\); the pooled φ [\d.e-]+ would give RMS [\d.]+, at bounds [\d.]+ %/,
    );
    assert.match(human.out, /WARNING: in regime 2, with drift: model, D_2 would dominate the quotes/);
    assert.match(human.out, /WARNING: with drift: model, D would dominate the quotes \(skew at q = 0 of/);
    assert.equal(readFileSync(out, 'utf8'), `${JSON.stringify(a, null, 2)}\n`);
    // quote --regimes builds the regime model as cj does: each D_z under --drift (shrunk by the regime's SE from
    // the calibration file), φ solved for the target on the joint (inventory, regime) law — the same φ as the
    // calibration's summary of cj with signal: imbalance at the same defaults.
    const mid = String(a.mid);
    const q3 = await cjmm(
      'quote',
      '--params',
      out,
      '--regimes',
      out,
      '--mid',
      mid,
      '--inventory-std',
      '2',
      '--json',
    );
    assert.equal(q3.code, 0, q3.err);
    const rm = JSON.parse(q3.out).regimeModel;
    const rq = a.quoting.regimes;
    assert.equal(rm.phiSource, 'target');
    assert.ok(Math.abs(rm.phi / rq.phi - 1) < 0.01, `quote φ ${rm.phi} vs calibrate ${rq.phi}`);
    assert.ok(Math.abs(rm.inventory.rms - 2) < 0.01, `joint-law RMS ${rm.inventory.rms}`);
    for (let z = 0; z < 3; z++) {
      const d = rm.regimes[z].drift;
      assert.ok(Math.abs(d.used - rq.regimes[z].driftUsed) < 1e-12, `D_${z} used`);
      assert.ok(Math.abs(d.model - rq.regimes[z].driftModel) < 1e-12, `D_${z}`);
      assert.ok(Math.abs(d.skewAtZero - rq.regimes[z].skewAtZero) < 0.01, `skew ${z}`);
    }
    assert.ok(rm.regimes[2].drift.dominatesWithModel);
    assert.ok(
      rm.regimes[2].warnings.some((w: string) =>
        /with --drift model, the drifts would dominate regime 2/.test(w),
      ),
    );
    const q4 = await cjmm('quote', '--params', out, '--regimes', out, '--mid', mid, '--inventory-std', '2');
    assert.match(q4.out, /φ [\d.e-]+ \(solved for the target on the joint \(inventory, regime\) law: met\)/);
    assert.match(q4.out, /drift D_2 0\.4\d* ± 0\.2\d* \/s, shrink → 0\.25/);
  });
});
