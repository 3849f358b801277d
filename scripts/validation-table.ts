/**
 * The README's out-of-sample validation table (issue 12, "Validation"): `cj` with the mid, the micro-price and
 * the imbalance signal, and the three baselines, each tuned by `cjmm hyperopt --walk-forward` and scored only on
 * the test windows no epoch saw, at Hyperliquid's base fee tier and at the best maker rebate tier. Runs the
 * `cjmm hyperopt` commands it prints (as child processes, exactly as a user would), sums each strategy's
 * out-of-sample windows (net P&L and its attribution; markouts weighted by their fill counts; time at the bound
 * weighted by the windows' durations) and prints markdown: the commands, the table, the parameters each fold
 * chose. Real output; nothing is edited by hand.
 *
 * Usage: node scripts/validation-table.ts [--data <path>] [--coin ETH] [--epochs 60] [--folds 3] [--jobs 2] [--seed 1]
 *                                         [--min-fills 5] [--only cj-mid,fixed,…] [--out table.md]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/hyperliquid/seed-collector/ETH' },
    coin: { type: 'string', default: 'ETH' },
    epochs: { type: 'string', default: '60' },
    folds: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    'min-fills': { type: 'string', default: '5' },
    only: { type: 'string' },
    out: { type: 'string' },
  },
});

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'src', 'cli', 'main.ts');

interface Variant {
  id: string;
  label: string;
  strategy: 'cj' | 'fixed' | 'as' | 'glft';
  /** Strategy fields the search starts from (the variant), beside the tuned ones. */
  config: Record<string, unknown>;
  space: string[];
}

// cj's three variants tune the same knobs: the inventory target (φ is solved for it; on the joint
// (inventory, regime) law with the signal) and the bound, in depth mode (the signal has no touch mode).
const cjSpace = ['inventoryTarget.stdLots', 'qMax'];
const VARIANTS: Variant[] = [
  { id: 'cj-mid', label: '`cj` (mid)', strategy: 'cj', config: {}, space: cjSpace },
  {
    id: 'cj-microprice',
    label: '`cj` (microprice)',
    strategy: 'cj',
    config: { reference: 'microprice' },
    space: cjSpace,
  },
  {
    id: 'cj-imbalance',
    label: '`cj` (imbalance)',
    strategy: 'cj',
    config: { signal: 'imbalance' },
    space: cjSpace,
  },
  // The baselines' default spaces (docs/optimize.md).
  { id: 'fixed', label: '`fixed`', strategy: 'fixed', config: {}, space: [] },
  { id: 'as', label: '`as`', strategy: 'as', config: {}, space: [] },
  { id: 'glft', label: '`glft`', strategy: 'glft', config: {}, space: [] },
];

const TIERS = [
  { id: 'base', label: 'tier 0 (maker 1.50 bps)', fees: { tier: 0 } },
  { id: 'rebate', label: 'tier 6 + maker rebate 3 (maker −0.30 bps)', fees: { tier: 6, makerRebate: 3 } },
];

type Metrics = {
  netPnl: number;
  fills: number;
  durationSec: number;
  pnlAttribution: Record<
    'spreadCapture' | 'adverseSelection' | 'inventoryCarry' | 'fees' | 'funding',
    number
  >;
  markouts: { horizon: string; n: number; meanMidMoveBps: number }[];
  timeAtBounds: { long: number; short: number; total: number; boundLots: number } | null;
};
interface Fold {
  train: { from: number; to: number };
  test: { from: number; to: number } | null;
  best: {
    params: Record<string, unknown>;
    loss: number;
    metrics: Metrics;
    outOfSample: { loss: number; metrics: Metrics } | null;
  } | null;
}

const only = values.only ? new Set(values.only.split(',')) : undefined;
const tmp = mkdtempSync(join(tmpdir(), 'cjmm-validation-'));
const commands: string[] = [];
const rows: string[] = [];
const paramRows: string[] = [];
let oosSpan = 0;
let testWindows: string[] = [];
const started = Date.now();
const load0 = loadavg()[0];
const f = (x: number, d = 3) => (Number.isFinite(x) ? (x >= 0 ? `+${x.toFixed(d)}` : x.toFixed(d)) : '–');
const iso = (t: number) => new Date(t).toISOString().slice(11, 19);

try {
  for (const v of VARIANTS) {
    if (only && !only.has(v.id)) continue;
    for (const tier of TIERS) {
      const config = join(tmp, `${v.id}-${tier.id}.json`);
      writeFileSync(
        config,
        JSON.stringify({ strategy: v.strategy, ...v.config, backtest: { fees: tier.fees } }),
      );
      const args = [
        'hyperopt',
        '--data',
        values.data,
        '--coin',
        values.coin,
        '--strategy',
        v.strategy,
        '--config',
        config,
        ...v.space.flatMap((s) => ['--space', s]),
        '--epochs',
        values.epochs,
        '-j',
        values.jobs,
        '--seed',
        values.seed,
        '--walk-forward',
        values.folds,
        '--prune',
        'none',
        '--min-fills',
        values['min-fills'],
        '--results',
        join(tmp, `${v.id}-${tier.id}.sqlite`),
        '--json',
      ];
      commands.push(
        `# ${v.id}, ${tier.id}: ${config.split('/').pop()} = ${JSON.stringify({ strategy: v.strategy, ...v.config, backtest: { fees: tier.fees } })}\ncjmm ${args.map((a) => (a.startsWith(tmp) ? a.slice(tmp.length + 1) : a)).join(' ')}`,
      );
      process.stderr.write(`${v.id} ${tier.id} …\n`);
      const run = spawnSync(process.execPath, [cli, ...args], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 1 << 30,
      });
      if (run.status !== 0) throw new Error(`hyperopt ${v.id} ${tier.id} failed: ${run.stderr}`);
      const out = JSON.parse(run.stdout) as { folds: Fold[] };
      const oos = out.folds.map((x) => x.best?.outOfSample?.metrics).filter((m): m is Metrics => !!m);
      if (oos.length !== out.folds.length)
        process.stderr.write(`  ${out.folds.length - oos.length} fold(s) without a best epoch\n`);
      oosSpan = out.folds.reduce((s, x) => s + (x.test ? x.test.to - x.test.from : 0), 0);
      testWindows = out.folds.map((x) => (x.test ? `${iso(x.test.from)}–${iso(x.test.to)}` : '—'));
      const sum = (g: (m: Metrics) => number) => oos.reduce((s, m) => s + g(m), 0);
      const att = (k: keyof Metrics['pnlAttribution']) => sum((m) => m.pnlAttribution[k]);
      const mk = ['1s', '5s', '30s'].map((h) => {
        let n = 0;
        let w = 0;
        for (const m of oos)
          for (const x of m.markouts)
            if (x.horizon === h && x.n > 0) {
              n += x.n;
              w += x.n * x.meanMidMoveBps;
            }
        return n > 0 ? (w / n).toFixed(2) : '–';
      });
      const dur = sum((m) => m.durationSec);
      const at = (k: 'long' | 'short') =>
        dur > 0 ? sum((m) => (m.timeAtBounds ? m.timeAtBounds[k] * m.durationSec : 0)) / dur : Number.NaN;
      rows.push(
        `| ${v.label} | ${tier.label} | ${f(
          sum((m) => m.netPnl),
          2,
        )} | ${f(att('spreadCapture'))} | ${f(att('adverseSelection'))} | ${f(att('inventoryCarry'))} | ${f(att('fees'))} | ${f(att('funding'))} | ${sum((m) => m.fills)} | ${mk.join(' / ')} | ${Math.round(100 * at('long'))} % / ${Math.round(100 * at('short'))} % |`,
      );
      const fmtParam = (x: unknown) =>
        typeof x === 'number'
          ? Number.isInteger(x)
            ? String(x)
            : Number(x.toPrecision(3)).toString()
          : String(x);
      paramRows.push(
        `| ${v.label} | ${tier.id} | ${out.folds
          .map((x) =>
            x.best
              ? `${Object.entries(x.best.params)
                  .map(([k, val]) => `${k.replace('inventoryTarget.', '')}=${fmtParam(val)}`)
                  .join(' ')} (train ${f(x.best.metrics.netPnl, 2)}, ${x.best.metrics.fills} fills)`
              : 'no feasible epoch',
          )
          .join(' · ')} |`,
      );
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const lines: string[] = [];
lines.push(
  `Out-of-sample, ${values.folds} walk-forward folds on ${values.coin} in ${values.data} (test windows ${testWindows.join(', ')} UTC, ${(oosSpan / 60_000).toFixed(1)} min in all), ${values.epochs} TPE epochs per fold (seed ${values.seed}, -j ${values.jobs}, no pruning, loss pnl, min fills ${values['min-fills']}); USD; markouts in bps of mid (negative = against us), fill-weighted over the folds; time at the bound (long / short) weighted by the windows' durations.`,
  '',
  '| strategy | fee tier | net P&L | spread capture | adverse selection (1 s) | inventory carry | fees | funding | fills | markout 1s / 5s / 30s (bps) | at bound (long / short) |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ...rows,
  '',
  'Parameters each fold chose (fold 1 · 2 · 3), with their in-sample (train) P&L:',
  '',
  '| strategy | fees | per fold |',
  '|---|---|---|',
  ...paramRows,
  '',
  `Commands (the config files written by the script; run ${new Date(started).toISOString().slice(0, 16)}Z, ${((Date.now() - started) / 1000).toFixed(0)} s wall on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}):`,
  '',
  '```',
  ...commands,
  '```',
);
const text = `${lines.join('\n')}\n`;
if (values.out) writeFileSync(values.out, text);
process.stdout.write(text);
