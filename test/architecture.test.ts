/**
 * The layers of src/ and which may import which. Each top-level folder of src/ is a layer; a file may import
 * its own layer and the layers its row allows, nothing else. Lower layers never know the ones above them: the
 * venue adapters use the exchange's rules and the feed interface, not the other way round.
 *
 * Read bottom-up (what each layer is for: README "Layout"):
 *
 * | layer       | may import                                                                                  |
 * |-------------|---------------------------------------------------------------------------------------------|
 * | util        | –                                                                                           |
 * | report      | –                                                                                           |
 * | marketdata  | util                                                                                        |
 * | model       | marketdata*, util                                                                           |
 * | calibration | model, marketdata*, report, util                                                            |
 * | engine      | marketdata, util                                                                            |
 * | exchange    | engine, marketdata, util                                                                    |
 * | strategies  | exchange, engine, calibration, model, marketdata, util                                      |
 * | sim         | exchange, engine, marketdata, util (the simulated venue, latency models, schedulers)        |
 * | backtest    | sim, strategies, exchange, engine, calibration, model, marketdata, report, util             |
 * | venue       | exchange, engine, marketdata, util                                                          |
 * | trading     | venue, backtest, sim, strategies, exchange, engine, calibration, model, marketdata, report, util |
 * | scan        | venue, backtest, strategies, exchange, engine, calibration, model, marketdata, report, util |
 * | rpc         | trading and everything below it                                                             |
 * | api         | rpc, util                                                                                   |
 * | notify      | rpc, util                                                                                   |
 * | service     | api, notify, rpc, trading and everything below it                                           |
 * | cli         | any layer                                                                                   |
 *
 * (*) model and calibration are pure: no node: built-in modules, and of marketdata only the event vocabulary
 * (marketdata/events.ts), never the store, importers or recorder.
 *
 * A new room (GUIDE: below cli/, above the engine, e.g. src/optimize/) gets a row here when it lands.
 * Plain fs reads and a regex over import/export statements: fast, no TypeScript program.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { test } from 'node:test';

const ANY = '*';

/** Layer → the other layers its files may import. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  util: [],
  report: [],
  marketdata: ['util'],
  model: ['marketdata', 'util'],
  calibration: ['model', 'marketdata', 'report', 'util'],
  engine: ['marketdata', 'util'],
  exchange: ['engine', 'marketdata', 'util'],
  strategies: ['exchange', 'engine', 'calibration', 'model', 'marketdata', 'util'],
  sim: ['exchange', 'engine', 'marketdata', 'util'],
  backtest: [
    'sim',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  venue: ['exchange', 'engine', 'marketdata', 'util'],
  trading: [
    'venue',
    'backtest',
    'sim',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  scan: [
    'venue',
    'backtest',
    'sim',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  rpc: [
    'trading',
    'venue',
    'backtest',
    'sim',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  api: ['rpc', 'util'],
  notify: ['rpc', 'util'],
  service: [
    'api',
    'notify',
    'rpc',
    'trading',
    'venue',
    'backtest',
    'sim',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  optimize: [
    'backtest',
    'strategies',
    'exchange',
    'engine',
    'calibration',
    'model',
    'marketdata',
    'report',
    'util',
  ],
  cli: [ANY],
};

/** Pure layers: no I/O modules, and from marketdata only these files. */
const PURE_LAYERS = ['model', 'calibration'];
const PURE_MARKETDATA = ['marketdata/events.ts'];

const SRC = resolve(import.meta.dirname, '..', 'src');

interface SourceFile {
  /** Path relative to src/, with forward slashes (e.g. "exchange/order-rules.ts"). */
  path: string;
  text: string;
}

interface ImportRef {
  spec: string;
  line: number;
}

/** Static imports and re-exports (also multi-line and `import type`), side-effect imports, dynamic import(). */
const IMPORT_RE =
  /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]|^[ \t]*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(text: string): ImportRef[] {
  const out: ImportRef[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    // Line of the specifier itself (the `from` line of a multi-line import).
    const at = (m.index ?? 0) + m[0].lastIndexOf(spec);
    out.push({ spec, line: text.slice(0, at).split('\n').length });
  }
  return out;
}

const layerOf = (srcPath: string) => srcPath.split('/')[0];

/** Every import that breaks the layer table, as "file:line imports target (why)". */
function violations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = layerOf(f.path);
    const allowed = MAY_IMPORT[from];
    const pure = PURE_LAYERS.includes(from);
    for (const { spec, line } of importsOf(f.text)) {
      const where = `src/${f.path}:${line}`;
      if (!spec.startsWith('.')) {
        if (pure && spec.startsWith('node:'))
          out.push(`${where} imports ${spec} (${from} is pure: no I/O modules)`);
        continue;
      }
      const target = join(dirname(f.path), spec).split(sep).join('/');
      if (target.startsWith('..')) {
        out.push(`${where} imports ${spec} (outside src/)`);
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      if (!allowed) {
        out.push(`${where} imports src/${target} (layer ${from} is not in the table: give it a row)`);
      } else if (!allowed.includes(ANY) && !allowed.includes(to)) {
        out.push(`${where} imports src/${target} (${from} may not import ${to})`);
      } else if (pure && to === 'marketdata' && !PURE_MARKETDATA.includes(target)) {
        out.push(`${where} imports src/${target} (${from} is pure: of marketdata only ${PURE_MARKETDATA})`);
      }
    }
  }
  return out;
}

function readSrc(): SourceFile[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.ts'))
    .map((p) => ({ path: p.split(sep).join('/'), text: readFileSync(join(SRC, p), 'utf8') }));
}

test('every import in src/ follows the layer table', () => {
  const files = readSrc();
  assert.ok(files.length > 50, `expected the sources under ${SRC}; found ${files.length} files`);
  const bad = violations(files);
  assert.deepEqual(bad, [], `imports against the layers:\n  ${bad.join('\n  ')}`);
});

test('every folder of src/ is a layer of the table', () => {
  const layers = new Set(readSrc().map((f) => layerOf(f.path)));
  const missing = [...layers].filter((l) => !(l in MAY_IMPORT));
  assert.deepEqual(missing, [], `src/ folders without a row in MAY_IMPORT: ${missing.join(', ')}`);
});

test('the layer table is an order: no layer can reach itself through the imports it allows', () => {
  const below = (layer: string) => (MAY_IMPORT[layer] ?? []).filter((l) => l !== ANY);
  for (const layer of Object.keys(MAY_IMPORT)) {
    for (const to of below(layer)) assert.ok(to in MAY_IMPORT, `${layer} may import an unknown layer ${to}`);
    // Depth-first over what the layer may import, directly or through other layers.
    const seen = new Set<string>();
    const stack = [...below(layer)];
    while (stack.length > 0) {
      const l = stack.pop() as string;
      assert.notEqual(l, layer, `${layer} can import itself through the table`);
      if (!seen.has(l)) {
        seen.add(l);
        stack.push(...below(l));
      }
    }
  }
});

test('the checker finds every kind of import and names file, line and rule', () => {
  const files: SourceFile[] = [
    {
      path: 'exchange/order-rules.ts',
      text: "/** see src/venue/x.ts */\nimport { a } from '../venue/hyperliquid/rules.ts';\nimport { b } from './fees.ts';\n",
    },
    {
      path: 'marketdata/recorder.ts',
      text: "import type {\n  FeedChannel,\n  MarketFeed,\n} from '../venue/hyperliquid/feed.ts';\n",
    },
    {
      path: 'engine/x.ts',
      text: "export { c } from '../strategies/index.ts';\nimport '../trading/side.ts';\n",
    },
    {
      path: 'strategies/y.ts',
      text: "const m = await import('../cli/main.ts');\nimport { d } from '../engine/types.ts';\n",
    },
    { path: 'model/z.ts', text: "import { readFileSync } from 'node:fs';\nimport { z } from 'zod';\n" },
    {
      path: 'calibration/w.ts',
      text: "import { openStore } from '../marketdata/store.ts';\nimport type { E } from '../marketdata/events.ts';\n",
    },
    { path: 'newroom/v.ts', text: "import { run } from '../backtest/run.ts';\n" },
    {
      path: 'cli/u.ts',
      text: "import { run } from '../newroom/v.ts';\nimport p from '../../package.json';\n",
    },
    { path: 'venue/t.ts', text: "  // import { e } from '../trading/session.ts';\n" },
  ];
  assert.deepEqual(violations(files), [
    'src/exchange/order-rules.ts:2 imports src/venue/hyperliquid/rules.ts (exchange may not import venue)',
    'src/marketdata/recorder.ts:4 imports src/venue/hyperliquid/feed.ts (marketdata may not import venue)',
    'src/engine/x.ts:1 imports src/strategies/index.ts (engine may not import strategies)',
    'src/engine/x.ts:2 imports src/trading/side.ts (engine may not import trading)',
    'src/strategies/y.ts:1 imports src/cli/main.ts (strategies may not import cli)',
    'src/model/z.ts:1 imports node:fs (model is pure: no I/O modules)',
    'src/calibration/w.ts:1 imports src/marketdata/store.ts (calibration is pure: of marketdata only marketdata/events.ts)',
    'src/newroom/v.ts:1 imports src/backtest/run.ts (layer newroom is not in the table: give it a row)',
    'src/cli/u.ts:2 imports ../../package.json (outside src/)',
  ]);
});
