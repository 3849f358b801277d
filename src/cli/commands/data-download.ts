/**
 * `cjmm data download`: months of history into the store, from Hyperliquid's own archives (S3, requester-pays)
 * or from Tardis.dev. Parsing, printing and the progress bar only; the work is in src/marketdata/download.
 */
import { stat } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { FundingApiError } from '../../marketdata/download/funding-api.ts';
import {
  DEFAULT_PRICE_PER_GB,
  DOWNLOAD_KINDS,
  DownloadFileError,
  type DownloadKind,
  type DownloadOptions,
  type DownloadReport,
  failedFilesError,
  type ProgressSink,
  planDownload,
  runDownload,
} from '../../marketdata/download/hyperliquid.ts';
import { ArchiveS3, S3AccessError } from '../../marketdata/download/s3.ts';
import {
  DEFAULT_TARDIS_URL,
  planTardis,
  runTardisDownload,
  TARDIS_KINDS,
  TardisError,
  type TardisKind,
  tardisFailedError,
} from '../../marketdata/download/tardis.ts';
import { SourceError } from '../../marketdata/source.ts';
import { isStore, type MarketStore, openStore, StoreError } from '../../marketdata/store/index.ts';
import { isoTime, parseTimeArg } from '../../marketdata/time.ts';
import { CliError } from '../errors.ts';

export const DEFAULT_STORE = 'data/store';

interface Flags {
  coin: string;
  from: string;
  to: string;
  store: string;
  kinds?: string;
  jobs: string;
  endpoint?: string;
  dryRun?: boolean;
  withUsers?: boolean;
  source: string;
  pricePerGb: string;
  infoUrl?: string;
  progress?: boolean;
  retryGaps?: boolean;
  json?: boolean;
}

/** Dollars to the cent, or to two significant digits below a cent (a few hours cost fractions of one). */
function usd(x: number): string {
  return x >= 0.01 || x === 0 ? x.toFixed(2) : x.toPrecision(2);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A cli-progress bar: files, bytes, ETA. */
function progressBar(): ProgressSink {
  const bar = new cliProgress.SingleBar(
    {
      format:
        'download [{bar}] {percentage}% | {mb}/{totalMb} MB | files {files}/{filesTotal} | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let files = 0;
  let filesTotal = 0;
  let bytes = 0;
  let totalMb = '0';
  return {
    start(nFiles, nBytes) {
      filesTotal = nFiles;
      totalMb = (nBytes / 1e6).toFixed(1);
      bar.start(Math.max(1, nBytes), 0, { files, filesTotal, mb: '0.0', totalMb });
    },
    bytes(n) {
      bytes += n;
      bar.update(bytes, { files, filesTotal, mb: (bytes / 1e6).toFixed(1), totalMb });
    },
    fileDone() {
      files++;
      bar.update(bytes, { files, filesTotal, mb: (bytes / 1e6).toFixed(1), totalMb });
    },
    stop() {
      bar.stop();
    },
  };
}

function parseKinds(text: string | undefined, allowed: readonly string[]): Set<string> {
  const list = (text ?? allowed.join(','))
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const k of list) {
    if (!allowed.includes(k)) throw new CliError(`--kinds: ${k} is not one of ${allowed.join(', ')}`);
  }
  if (list.length === 0) throw new CliError(`--kinds: give at least one of ${allowed.join(', ')}`);
  return new Set(list);
}

function printReport(r: DownloadReport, storeDir: string): void {
  console.log(
    `downloaded into ${storeDir}: ${r.hoursWritten} hour${r.hoursWritten === 1 ? '' : 's'}, ${r.plan.files} files, ${mb(r.bytesFetched)}` +
      (r.plan.skipped ? ` (${r.plan.skipped} coin-hours already complete, skipped)` : ''),
  );
  for (const k of ['book', 'trade'] as const) {
    if (r.read[k] === 0 && r.written[k] === 0) continue;
    console.log(
      `  ${k.padEnd(7)} read ${String(r.read[k]).padStart(9)}   written ${String(r.written[k]).padStart(9)}`,
    );
  }
  if (r.funding.pages > 0)
    console.log(
      `  funding read ${String(r.funding.rows).padStart(9)}   written ${String(r.funding.written).padStart(9)}`,
    );
  console.log(`  duplicates skipped: ${r.duplicates + r.funding.duplicates}`);
  console.log(`  malformed skipped: ${r.malformed + r.funding.malformed}`);
  for (const m of r.malformedSamples) console.log(`    ${m.file}:${m.line}: ${m.reason}`);
  if (r.trades.makerOnly + r.trades.ambiguous > 0)
    console.log(
      `  trades without a taker fill (side from the maker's): ${r.trades.makerOnly + r.trades.ambiguous}`,
    );
  const archiveGaps = r.gaps.filter(
    (g) => g.reason.startsWith('archive has no') || g.reason.startsWith('no trade'),
  );
  console.log(
    `  gaps recorded: ${r.gaps.length}${archiveGaps.length ? ` (${archiveGaps.length} hour${archiveGaps.length === 1 ? '' : 's'} the archive lacks)` : ''}`,
  );
  for (const g of archiveGaps.slice(0, 20))
    console.log(`    ${g.coin} ${g.kind} ${isoTime(g.start)}: ${g.reason}`);
  if (archiveGaps.length > 20) console.log(`    … and ${archiveGaps.length - 20} more`);
  if (r.failed.length > 0) {
    console.log(`  hours NOT stored, a file could not be read: ${r.failed.length}`);
    for (const f of r.failed) console.log(`    ${f.hour.slice(0, 13)} ${f.file}`);
  }
}

/** Library errors that are the user's to fix become one-line CLI errors. */
function asCliError(err: unknown): unknown {
  if (
    err instanceof S3AccessError ||
    err instanceof StoreError ||
    err instanceof SourceError ||
    err instanceof TardisError ||
    err instanceof FundingApiError ||
    err instanceof RangeError
  ) {
    return new CliError(err.message);
  }
  // A corrupt archive file is not a usage error: exit 1 with the file named.
  if (err instanceof DownloadFileError) return new CliError(err.message, 1);
  return err;
}

export function registerDownload(data: Command): void {
  data
    .command('download')
    .description(
      "download history into the store: books from s3://hyperliquid-archive (l2Book, ~2 snapshots/s), trades from s3://hl-mainnet-node-data (node_trades from 2025-03-22, node_fills from 2025-05-25, node_fills_by_block from 2025-07-27), funding from the info API's fundingHistory; or, with --source tardis, Tardis.dev's CSV datasets (TARDIS_API_KEY). The S3 buckets are requester-pays: AWS credentials from the standard chain, and you pay the transfer (see --dry-run). Resumable: hours already complete are skipped; hours the archive lacks are recorded as gaps.",
    )
    .requiredOption('--coin <coins>', 'coin or comma-separated coins (e.g. ETH,BTC)')
    .requiredOption(
      '--from <time>',
      'start (UTC), ISO-8601 date/time or epoch ms; whole hours are downloaded',
    )
    .requiredOption('--to <time>', 'end (exclusive), ISO-8601 date/time or epoch ms')
    .option('--store <dir>', 'store folder (created if missing)', DEFAULT_STORE)
    .option('--kinds <kinds>', `comma-separated: ${DOWNLOAD_KINDS.join(', ')} (tardis: also bbo)`)
    .option('-j, --jobs <n>', 'hours downloaded in parallel', '4')
    .option('--endpoint <url>', 'S3-compatible server (path-style), or with --source tardis the datasets URL')
    .option('--dry-run', 'list the files, bytes and estimated transfer cost; download nothing')
    .option('--with-users', 'keep the buyer and seller addresses of each trade')
    .option(
      '--source <source>',
      'hyperliquid (S3 archives) or tardis (Tardis.dev CSV datasets)',
      'hyperliquid',
    )
    .option(
      '--price-per-gb <usd>',
      'transfer price for the --dry-run estimate (AWS Tokyo internet egress; 0 from EC2 in the region)',
      String(DEFAULT_PRICE_PER_GB),
    )
    .option('--info-url <url>', 'Hyperliquid info API for fundingHistory', 'https://api.hyperliquid.xyz/info')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--retry-gaps', 'fetch again hours recorded as gaps (the archive is filled about monthly)')
    .option('--json', 'print the report (or the dry-run plan) as JSON')
    .action(async (o: Flags) => {
      const coins = o.coin
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      if (coins.length === 0) throw new CliError('--coin: give at least one coin, e.g. --coin ETH');
      let from: number;
      let to: number;
      try {
        from = parseTimeArg(o.from, '--from');
        to = parseTimeArg(o.to, '--to');
      } catch (err) {
        throw asCliError(err);
      }
      if (!(to > from)) throw new CliError(`--to must be after --from (got ${o.from} … ${o.to})`);
      const jobs = Number(o.jobs);
      if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
        throw new CliError(`-j/--jobs must be an integer from 1 to 64 (got ${o.jobs})`);
      const pricePerGb = Number(o.pricePerGb);
      if (!Number.isFinite(pricePerGb) || pricePerGb < 0)
        throw new CliError(`--price-per-gb must be a non-negative number of USD (got ${o.pricePerGb})`);
      if (o.source !== 'hyperliquid' && o.source !== 'tardis')
        throw new CliError(`--source must be hyperliquid or tardis (got ${o.source})`);
      const st = await stat(o.store).catch(() => null);
      const storeExists = st?.isDirectory() === true && (await isStore(o.store));
      const showBar = !o.json && (o.progress === true || process.stderr.isTTY === true);
      const log = showBar || o.json ? undefined : (line: string) => console.log(line);

      if (o.source === 'tardis') {
        const kinds = parseKinds(o.kinds, TARDIS_KINDS) as Set<TardisKind>;
        const apiKey = process.env.TARDIS_API_KEY;
        const topts = {
          coins,
          from,
          to,
          kinds,
          jobs,
          endpoint: o.endpoint ?? DEFAULT_TARDIS_URL,
          apiKey,
          log,
        };
        try {
          if (o.dryRun) {
            const plan = await planTardis(storeExists ? o.store : undefined, topts);
            if (o.json) console.log(JSON.stringify(plan, null, 2));
            else {
              for (const f of plan.files) console.log(`${f.url}`);
              console.log(
                `${plan.files.length} files (Tardis datasets, one per coin, data type and day; sizes are not known before download; billed by your Tardis subscription, not per byte); ${plan.skipped} already complete`,
              );
            }
            return;
          }
          if (!apiKey) {
            throw new CliError(
              'TARDIS_API_KEY is not set: Tardis.dev datasets need an API key (only the first day of each month is free without one)',
            );
          }
          let store: MarketStore | undefined;
          try {
            store = await openStore(o.store);
            const r = await runTardisDownload(store, {
              ...topts,
              progress: showBar ? progressBar() : undefined,
            });
            if (o.json) console.log(JSON.stringify(r, null, 2));
            else {
              console.log(
                `downloaded ${r.files} Tardis files into ${o.store} (${r.skipped} already complete)`,
              );
              for (const [k, v] of Object.entries(r.written))
                if (v > 0) console.log(`  ${k.padEnd(7)} written ${v}`);
              console.log(`  duplicates skipped: ${r.duplicates}`);
              console.log(`  malformed skipped: ${r.malformed}`);
              for (const f of r.failed) console.log(`  FAILED ${f.dataType} ${f.day}: ${f.error}`);
            }
            // Not a usage error: exit 1, every failed file named (the rest is stored and recorded).
            const failedFiles = tardisFailedError(r.failed);
            if (failedFiles) throw new CliError(failedFiles.message, 1);
          } finally {
            await store?.close();
          }
        } catch (err) {
          throw asCliError(err);
        }
        return;
      }

      const kinds = parseKinds(o.kinds, DOWNLOAD_KINDS) as Set<DownloadKind>;
      const opts: DownloadOptions = {
        coins,
        from,
        to,
        kinds,
        jobs,
        withUsers: o.withUsers === true,
        retryGaps: o.retryGaps === true,
        pricePerGb,
        infoUrl: o.infoUrl,
        log,
      };
      const s3 = new ArchiveS3({ endpoint: o.endpoint });
      const abort = new AbortController();
      const onSignal = () => {
        if (abort.signal.aborted) process.exit(130);
        console.error('cjmm: stopping after the hours in progress (press Ctrl-C again to quit now)');
        abort.abort();
      };
      process.once('SIGINT', onSignal);
      try {
        if (o.dryRun) {
          const plan = await planDownload(s3, storeExists ? o.store : undefined, {
            ...opts,
            signal: abort.signal,
          });
          const { hours, ...summary } = plan;
          if (o.json) {
            console.log(
              JSON.stringify(
                {
                  ...summary,
                  files: hours.flatMap((h) =>
                    h.files.map((f) => ({ url: `s3://${f.bucket}/${f.key}`, bytes: f.bytes })),
                  ),
                  missing: hours.flatMap((h) => h.missing.map((m) => ({ hour: isoTime(h.hour), ...m }))),
                  requests: s3.requests,
                },
                null,
                2,
              ),
            );
            return;
          }
          for (const h of hours) {
            for (const f of h.files) console.log(`s3://${f.bucket}/${f.key}  ${f.bytes}`);
            for (const m of h.missing)
              console.log(`(missing) ${isoTime(h.hour)} ${m.coin} ${m.kind}: ${m.reason}`);
          }
          console.log(
            `${plan.files} files, ${mb(plan.bytes)} to download; ${plan.skipped} coin-hours already complete; ${plan.missing} missing in the archive (would be recorded as gaps)`,
          );
          console.log(
            `estimated transfer cost: US$${usd(plan.estimatedCostUsd)} at $${pricePerGb}/GB (AWS S3 internet egress, Tokyo, first 10 TB/month; the buckets are requester-pays; GET requests included); $0 from EC2 in the buckets' region`,
          );
          if (kinds.has('funding'))
            console.log(
              `funding: ${coins.length} fundingHistory quer${coins.length === 1 ? 'y' : 'ies'} (free, public info API)`,
            );
          return;
        }
        let store: MarketStore | undefined;
        try {
          store = await openStore(o.store);
          const r = await runDownload(s3, store, {
            ...opts,
            progress: showBar ? progressBar() : undefined,
            signal: abort.signal,
          });
          if (o.json) console.log(JSON.stringify(r, null, 2));
          else printReport(r, o.store);
          const corrupt = failedFilesError(r.failed);
          if (corrupt) throw corrupt;
          if (abort.signal.aborted)
            throw new CliError('interrupted: run the same command again to resume', 130);
        } finally {
          await store?.close();
        }
      } catch (err) {
        throw asCliError(err);
      } finally {
        process.off('SIGINT', onSignal);
        s3.close();
      }
    });
}
