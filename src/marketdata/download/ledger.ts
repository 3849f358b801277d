/**
 * Which downloaded hours are complete: `<store>/coin=<C>/downloads.jsonl`, one JSON line per (kind, hour)
 * appended and fsynced only AFTER that hour's rows are durably in the store. A download killed mid-hour leaves
 * rows but no line, so the hour is fetched again (and the store's de-duplication drops what it already had); a
 * torn last line from a crash is ignored. Lines: {kind, hour (ISO start), status: 'complete'|'gap', source,
 * rows, at}.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { coinDirName } from '../store/index.ts';

export type LedgerStatus = 'complete' | 'gap';

export interface LedgerEntry {
  coin: string;
  /** 'book' | 'trade' | 'bbo' | 'funding' (Tardis days are recorded per hour too). */
  kind: string;
  /** Hour start, ms. */
  hour: number;
  status: LedgerStatus;
  /** Where it came from (s3://bucket/key, tardis:…). */
  source: string;
  rows: number;
}

export const LEDGER_FILE = 'downloads.jsonl';

function ledgerPath(storeDir: string, coin: string): string {
  return join(storeDir, coinDirName(coin), LEDGER_FILE);
}

export function ledgerKey(kind: string, hour: number): string {
  return `${kind}|${hour}`;
}

/** Entries already recorded for a coin: key (kind|hour) → status (the last line wins). */
export async function readLedger(storeDir: string, coin: string): Promise<Map<string, LedgerStatus>> {
  const out = new Map<string, LedgerStatus>();
  let text: string;
  try {
    text = await readFile(ledgerPath(storeDir, coin), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as { kind?: unknown; hour?: unknown; status?: unknown };
      const hour = typeof e.hour === 'string' ? Date.parse(e.hour) : Number.NaN;
      if (typeof e.kind !== 'string' || !Number.isFinite(hour)) continue;
      if (e.status === 'complete' || e.status === 'gap') out.set(ledgerKey(e.kind, hour), e.status);
    } catch {
      // A torn line (crash mid-append): that hour simply is not complete.
    }
  }
  return out;
}

/** Append entries durably (one write + fsync per coin). */
export async function appendLedger(storeDir: string, entries: LedgerEntry[]): Promise<void> {
  const byCoin = new Map<string, LedgerEntry[]>();
  for (const e of entries) {
    const list = byCoin.get(e.coin) ?? [];
    list.push(e);
    byCoin.set(e.coin, list);
  }
  const at = new Date().toISOString();
  for (const [coin, list] of byCoin) {
    await mkdir(join(storeDir, coinDirName(coin)), { recursive: true });
    const text = list
      .map(
        (e) =>
          `${JSON.stringify({ kind: e.kind, hour: new Date(e.hour).toISOString(), status: e.status, source: e.source, rows: e.rows, at })}\n`,
      )
      .join('');
    // Start on a fresh line even if a crash left a torn one.
    const fd = openSync(ledgerPath(storeDir, coin), 'a+');
    try {
      writeSync(fd, `\n${text}`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
