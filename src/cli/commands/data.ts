/**
 * `cjmm data import|ls|export`: the market-data store from the command line. Parsing and printing only;
 * the work is in src/marketdata.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Gap } from '../../marketdata/events.ts';
import { type ExportFormat, exportData, formatFromPath } from '../../marketdata/export.ts';
import { DEFAULT_GAP_THRESHOLD_MS } from '../../marketdata/gaps.ts';
import { type ImportReport, importSource, SourceError } from '../../marketdata/source.ts';
import {
  MARKET_EVENT_KINDS,
  type MarketStore,
  openStore,
  STORE_KINDS,
  StoreError,
  type StoreKind,
} from '../../marketdata/store/index.ts';
import { isoTime, parseTimeArg } from '../../marketdata/time.ts';
import { CliError } from '../errors.ts';
import { registerDownload } from './data-download.ts';

/** Library errors that are the user's to fix become one-line CLI errors. */
function asCliError(err: unknown): unknown {
  if (err instanceof SourceError || err instanceof StoreError || err instanceof RangeError) {
    return new CliError(err.message);
  }
  return err;
}

async function withStore<T>(dir: string, fn: (store: MarketStore) => Promise<T>): Promise<T> {
  let store: MarketStore | undefined;
  try {
    store = await openStore(dir);
    return await fn(store);
  } catch (err) {
    throw asCliError(err);
  } finally {
    await store?.close();
  }
}

function parseTime(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseTimeArg(value, flag);
  } catch (err) {
    throw asCliError(err);
  }
}

function fmtGap(g: Gap): string {
  return `${isoTime(g.start)} → ${isoTime(g.end)} (${((g.end - g.start) / 1000).toFixed(1)} s, ${g.kind}) ${g.reason}`;
}

function printImport(r: ImportReport): void {
  console.log(`imported ${r.source} (${r.layout}, ${r.files} file${r.files === 1 ? '' : 's'})`);
  for (const k of MARKET_EVENT_KINDS) {
    if (r.read[k] === 0 && r.written[k] === 0) continue;
    console.log(
      `  ${k.padEnd(6)} read ${String(r.read[k]).padStart(9)}   written ${String(r.written[k]).padStart(9)}`,
    );
  }
  if (r.funding)
    console.log(
      `  funding read ${String(r.funding.read).padStart(9)}   written ${String(r.funding.written).padStart(9)}`,
    );
  console.log(`  duplicates skipped: ${r.duplicates}`);
  console.log(`  malformed skipped: ${r.malformed}`);
  for (const m of r.malformedSamples) console.log(`    ${m.file}:${m.line}: ${m.reason}`);
  if (r.malformed > r.malformedSamples.length)
    console.log(`    … and ${r.malformed - r.malformedSamples.length} more`);
  console.log(`  gaps found: ${r.gaps.length}`);
  for (const g of r.gaps) console.log(`    ${g.coin} ${fmtGap(g)}`);
}

export function register(program: Command): void {
  const data = program
    .command('data')
    .description('market data: download history, import into the store, list, export, compact');

  data
    .command('import')
    .description(
      'import market data into the store; the layout is detected: a cjmm store, seed collector Parquet ' +
        '(<SYM>/{orderbooks,prices,trades}/*.parquet) or CSV (orderbooks_<SYM>.csv, trades_<SYM>.csv, ' +
        'prices_<SYM>.csv), Hyperliquid archive (market_data/<YYYYMMDD>/<hour>/l2Book/<COIN>.lz4), or a ' +
        'websocket capture ("<ns> <json>" lines, gzip or plain), or Tardis.dev CSV datasets as Tardis serves them ' +
        '(*.csv.gz: trades, incremental_book_L2 rebuilt into books, book_snapshot_25, quotes, derivative_ticker → funding). ' +
        'Re-running is harmless: duplicates are skipped.',
    )
    .argument('<path>', 'file or folder to import')
    .requiredOption('--store <dir>', 'store folder (created if missing)')
    .option('--coin <coin>', 'import only this coin (e.g. ETH)')
    .option(
      '--gap-threshold <seconds>',
      'book/bbo silence longer than this is recorded as a gap',
      String(DEFAULT_GAP_THRESHOLD_MS / 1000),
    )
    .option('--json', 'print the import report as JSON')
    .action(
      async (path: string, o: { store: string; coin?: string; gapThreshold: string; json?: boolean }) => {
        const thr = Number(o.gapThreshold);
        if (!(thr > 0) || !Number.isFinite(thr)) {
          throw new CliError(`--gap-threshold must be a positive number of seconds (got ${o.gapThreshold})`);
        }
        const report = await withStore(o.store, (store) =>
          importSource(path, store, { coin: o.coin, gapThresholdMs: thr * 1000 }),
        );
        // A --coin that matches nothing is almost always a typo or the wrong source: say so instead of a silent success.
        const rowsRead =
          MARKET_EVENT_KINDS.reduce((n, k) => n + report.read[k], 0) + (report.funding?.read ?? 0);
        if (o.coin !== undefined && rowsRead === 0 && report.malformed === 0) {
          throw new CliError(`--coin: no ${o.coin} data in ${path} (${report.layout}); check the coin name`);
        }
        if (o.json) console.log(JSON.stringify(report, null, 2));
        else printImport(report);
      },
    );

  registerDownload(data);

  data
    .command('compact')
    .description(
      "merge each closed hour's shards into one file per coin, kind and hour (crash-safe; readers never see a row twice)",
    )
    .requiredOption('--store <dir>', 'store folder')
    .option('--coin <coin>', 'compact only this coin (default: all)')
    .action(async (o: { store: string; coin?: string }) => {
      const st = await stat(o.store).catch(() => null);
      if (!st?.isDirectory()) throw new CliError(`--store: no store at ${o.store}`);
      const r = await withStore(o.store, async (store) => {
        if (o.coin !== undefined && !(await store.coins()).includes(o.coin)) {
          throw new CliError(
            `--coin: ${o.coin} is not in the store (have: ${(await store.coins()).join(', ') || 'none'})`,
          );
        }
        return store.compact({ coin: o.coin });
      });
      console.log(
        r.partitions === 0
          ? 'nothing to compact (every closed hour already has one file)'
          : `compacted ${r.partitions} partitions: ${r.shardsBefore} shards → ${r.partitions} files, ${r.rows} rows`,
      );
    });

  data
    .command('ls')
    .description('list the store: per coin and kind, rows, first and last exchange time, gaps')
    .requiredOption('--store <dir>', 'store folder')
    .option('--json', 'print an array of {coin, kind, rows, start, end, gaps} (times in epoch ms)')
    .action(async (o: { store: string; json?: boolean }) => {
      const st = await stat(o.store).catch(() => null);
      if (!st?.isDirectory()) throw new CliError(`--store: no store at ${o.store}`);
      const rows = await withStore(o.store, (store) => store.summary());
      if (o.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log(`(store ${o.store} is empty)`);
        return;
      }
      const header = ['coin', 'kind', 'rows', 'first (UTC)', 'last (UTC)', 'gaps'];
      const table = rows.map((r) => [
        r.coin,
        r.kind,
        String(r.rows),
        isoTime(r.start),
        isoTime(r.end),
        r.gaps.length === 0
          ? '0'
          : `${r.gaps.length} (${(r.gaps.reduce((s, g) => s + g.end - g.start, 0) / 1000).toFixed(1)} s)`,
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
      const line = (cells: string[]) =>
        cells
          .map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd();
      console.log(line(header));
      for (const row of table) console.log(line(row));
    });

  data
    .command('export')
    .description(
      'export one coin to CSV or Parquet; without --kind every stored kind goes to <out>.<kind>.<ext>. ' +
        'Times are ISO-8601 (UTC unless an offset is given) or epoch milliseconds; --from inclusive, --to exclusive',
    )
    .requiredOption('--store <dir>', 'store folder')
    .requiredOption('--coin <coin>', 'coin to export (e.g. ETH)')
    .option('--kind <kind>', 'book | trade | bbo | funding')
    .option('--from <time>', 'start (exchange time), ISO-8601 or epoch ms')
    .option('--to <time>', 'end (exchange time, exclusive), ISO-8601 or epoch ms')
    .requiredOption('--out <file>', 'output file (.csv or .parquet)')
    .option('--format <format>', 'csv | parquet (default: from the --out extension)')
    .action(
      async (o: {
        store: string;
        coin: string;
        kind?: string;
        from?: string;
        to?: string;
        out: string;
        format?: string;
      }) => {
        if (o.kind !== undefined && !STORE_KINDS.includes(o.kind as StoreKind)) {
          throw new CliError(`--kind must be one of ${STORE_KINDS.join(', ')} (got ${o.kind})`);
        }
        const format = (o.format ?? formatFromPath(o.out)) as ExportFormat | undefined;
        if (format !== 'csv' && format !== 'parquet') {
          throw new CliError(
            o.format === undefined
              ? `--format: cannot tell from ${o.out}; give --format csv|parquet or an .csv/.parquet --out`
              : `--format must be csv or parquet (got ${o.format})`,
          );
        }
        const from = parseTime(o.from, '--from');
        const to = parseTime(o.to, '--to');
        if (from !== undefined && to !== undefined && !(to > from)) {
          throw new CliError(`--to must be after --from (got ${o.from} … ${o.to})`);
        }
        const st = await stat(o.store).catch(() => null);
        if (!st?.isDirectory()) throw new CliError(`--store: no store at ${o.store}`);
        const results = await withStore(o.store, async (store) => {
          if (!(await store.coins()).includes(o.coin)) {
            throw new CliError(
              `--coin: ${o.coin} is not in the store (have: ${(await store.coins()).join(', ') || 'none'})`,
            );
          }
          return exportData(store, {
            coin: o.coin,
            kind: o.kind as StoreKind | undefined,
            from,
            to,
            out: o.out,
            format,
          });
        });
        for (const r of results) console.log(`${r.kind}: ${r.rows} rows → ${r.file}`);
      },
    );
}
