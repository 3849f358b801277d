/**
 * Real Hyperliquid ETH recordings (../shared/data, read in place through the market-data layer's
 * readSource), the CLI end to end, and the HTML report.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import { PARAM_KEYS } from '../../src/calibration/types.ts';
import type { Gap, MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { parseParamsFile } from '../../src/model/params-file.ts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';

describe('seed-collector ETH (real data)', { skip: sharedSkip }, () => {
  let events: MarketEvent[] = [];
  let gaps: Gap[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'cjmm-cal-'));
  before(async () => {
    const d = await readSource(SEED_ETH, { coin: 'ETH' });
    events = d.events;
    gaps = d.gaps;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('finite, positive estimates with standard errors; fills grouped into MOs', () => {
    const out = calibrate(events, gaps, { coin: 'ETH' });
    const r = out.result;
    assert.ok(r, `no result: ${out.flags}`);
    assert.equal(r.source, 'fresh');
    assert.equal(r.spread.tick, 0.1);
    for (const k of PARAM_KEYS) {
      assert.ok(Number.isFinite(r[k]), `${k} = ${r[k]}`);
      if (!k.startsWith('epsilon')) assert.ok(r[k] > 0, `${k} = ${r[k]}`);
      assert.ok(r.stderr[k] > 0 && r.stderr[k] < Math.abs(r[k]), `${k}: SE ${r.stderr[k]} vs ${r[k]}`);
    }
    // Several fills per MO on Hyperliquid: grouping matters (λ from fills would be ~3× too high).
    assert.ok(r.samples.fillsPerMoPlus > 2 && r.samples.fillsPerMoMinus > 2, JSON.stringify(r.samples));
    // ETH spends most of its time at a 1-tick spread; the ~4-minute collector gap is not observed time.
    assert.ok(r.spread.fracAtOneTick > 0.8);
    const span = (r.window.end - r.window.start) / 1000;
    assert.ok(r.window.observedSec < span - 200, `observed ${r.window.observedSec} of ${span}`);
    // λ is the intensity at δ = 0: above the rate of MOs reaching the touch.
    assert.ok(r.lambdaPlus > r.moRatePlus && r.lambdaMinus > r.moRateMinus);
    // Markouts grow with the horizon from 'next' to 5 s on both sides.
    const m = Object.fromEntries(r.markouts.map((x) => [x.horizon, x]));
    assert.ok(m['5s'].plus.mean > m.next.plus.mean && m['5s'].minus.mean > m.next.minus.mean);
  });

  test('ETH depths: the single exponential is rejected, the two-part model fits and is used; D is noise', () => {
    const r = calibrate(events, gaps, { coin: 'ETH' }).result!;
    for (const side of ['plus', 'minus'] as const) {
      const m = r.depthModel![side];
      assert.equal(m.use, 'two-part');
      assert.ok(m.exponential!.pValue < 1e-10, `${side}: exponential p ${m.exponential!.pValue}`);
      assert.ok(m.twoPart!.pValue > 0.01, `${side}: two-part p ${m.twoPart!.pValue}`);
      assert.ok(m.twoPart!.touchShare > 0.75 && m.twoPart!.touchShare < 0.9);
      // Past the first level the reach decays several times more slowly than the single fit says.
      assert.ok(m.twoPart!.kappaTail < m.exponential!.kappa / 2);
      assert.ok(m.n > 0.8 * (side === 'plus' ? r.samples.mosPlus : r.samples.mosMinus));
    }
    const d = r.drift!;
    assert.ok(Math.abs(d.value - (r.lambdaPlus * r.epsilonPlus - r.lambdaMinus * r.epsilonMinus)) < 1e-15);
    assert.ok(Math.abs(d.z) < 1 && d.shrinkFactor === 0 && d.shrunk === 0, JSON.stringify(d));
    const mm = r.markouts.find((m) => m.horizon === '1s')!;
    assert.ok(mm.covariance! < 0, 'the shared drift correction: Cov(ε⁺, ε⁻) < 0');
  });

  test('a 10-minute window at a given time uses only data inside it', () => {
    const at = events[events.length - 1].exTime - 60_000;
    const r = calibrate(events, gaps, { coin: 'ETH', windowMs: 600_000, at }).result!;
    assert.equal(r.at, at);
    assert.equal(r.window.end, at);
    assert.ok(r.window.observedSec <= 600 + 1e-6 && r.window.observedSec > 400, `${r.window.observedSec}`);
  });

  test('cjmm calibrate: JSON contract, --out, --legacy-out, --report, and a clear error on bad flags', () => {
    const cli = join(REPO_ROOT, 'src', 'cli', 'main.ts');
    const out = join(tmp, 'params.json');
    const legacy = join(tmp, 'legacy');
    const report = join(tmp, 'report.html');
    const run = spawnSync(
      process.execPath,
      [
        cli,
        'calibrate',
        '--data',
        SEED_ETH,
        '--coin',
        'ETH',
        '--window',
        '10m',
        '--json',
        '--out',
        out,
        '--legacy-out',
        legacy,
        '--report',
        report,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    for (const k of PARAM_KEYS) {
      assert.equal(typeof printed[k], 'number', k);
      assert.equal(typeof printed.stderr[k], 'number', `stderr.${k}`);
    }
    assert.ok(printed.samples.mosPlus > 0 && printed.window.observedSec > 0 && printed.markouts.length >= 4);
    // Inventory-control keys: both depth fits, D with its SE, and what cj's defaults would quote.
    assert.equal(printed.depthModel.plus.use, 'two-part');
    assert.equal(typeof printed.depthModel.minus.twoPart.kappaTail, 'number');
    assert.equal(typeof printed.drift.stderr, 'number');
    assert.equal(printed.quoting.settings.drift, 'shrink');
    assert.ok(printed.quoting.phi > 0 && printed.quoting.phiStatus === 'met');
    assert.ok(Math.abs(printed.quoting.inventoryRms - 2) < 0.01);
    assert.equal(printed.quoting.dominates, false);
    assert.equal(printed.quoting.dominatesWithModel, true);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), printed);
    // `cjmm quote --params` accepts the file as is.
    const params = parseParamsFile(readFileSync(out, 'utf8'), out);
    assert.equal(params.kappaPlus, printed.kappaPlus);
    assert.equal(params.spread?.tick, 0.1);
    assert.deepEqual(JSON.parse(readFileSync(join(legacy, 'kappa.json'), 'utf8')), {
      'kappa+': printed.kappaPlus,
      'kappa-': printed.kappaMinus,
    });
    assert.equal(
      JSON.parse(readFileSync(join(legacy, 'lambda.json'), 'utf8'))['lambda-'],
      printed.lambdaMinus,
    );
    assert.equal(
      JSON.parse(readFileSync(join(legacy, 'epsilon.json'), 'utf8'))['epsilon+'],
      printed.epsilonPlus,
    );
    const html = readFileSync(report, 'utf8');
    // Λ(δ) fit, markouts and (data longer than the window) parameters through time: ≥ 5 charts, no NaN.
    assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'charts missing');
    assert.ok(!/NaN|undefined/.test(html));
    assert.ok(!/<script|src="http|href="http/.test(html), 'report must be self-contained');
    // The regime model (generator and per-regime parameters with SEs, cj's φ on the joint law) and the
    // micro-price adjustment by bucket, and D's effect on cj's depths, are in the report.
    const fmt = (v: number) => Number(v.toPrecision(4)).toString();
    const rg = printed.regimes;
    assert.ok(html.includes('Imbalance regimes (Cartea, Donnelly &amp; Jaimungal 2018)'));
    assert.ok(
      html.includes(`${fmt(rg.generator[0][1])} ± ${fmt(rg.generatorStderr[0][1])}`),
      'generator ± SE',
    );
    for (const p of rg.params)
      assert.ok(
        html.includes(`${fmt(p.lambdaPlus)} ± ${fmt(p.stderr.lambdaPlus)}`),
        `regime ${p.regime} λ⁺ ± SE`,
      );
    assert.ok(html.includes('cj with signal: imbalance on this regime model'));
    assert.ok(html.includes(`φ ${fmt(printed.quoting.regimes.phi)} (met)`));
    assert.ok(html.includes('Micro-price (Stoikov 2018)'));
    const mp = printed.microprice;
    const tick = printed.spread.tick;
    assert.ok(
      html.includes(
        `${(mp.adjustment[0][0] / tick).toFixed(2)} (G¹ ${(mp.g1[0][0] / tick).toFixed(2)}; ${mp.visits[0][0]})`,
      ),
    );
    assert.ok(html.includes('δ⁺, D as estimated'), "D's effect on the depths");
    // cj with signal: imbalance at the defaults: φ from the target on the joint law, per-regime drifts.
    const rq = printed.quoting.regimes;
    assert.equal(rq.phiStatus, 'met');
    assert.ok(Math.abs(rq.inventoryRms - 2) < 0.01, `joint-law RMS ${rq.inventoryRms}`);
    assert.equal(rq.regimes.length, rg.count);
    for (const z of rq.regimes) assert.equal(typeof z.skewAtZero, 'number');
    assert.equal(printed.quoting.depths.q.length, 21);

    const bad = spawnSync(
      process.execPath,
      [cli, 'calibrate', '--data', SEED_ETH, '--coin', 'ETH', '--window', '5x'],
      {
        encoding: 'utf8',
      },
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--window: duration '5x'/);
    // Every bad flag value names its flag (users script against the messages).
    const badMarkout = spawnSync(
      process.execPath,
      [cli, 'calibrate', '--data', SEED_ETH, '--coin', 'ETH', '--markout', '0s'],
      { encoding: 'utf8' },
    );
    assert.equal(badMarkout.status, 2);
    assert.match(badMarkout.stderr, /--markout: markout horizon '0s'/);
  });
});
