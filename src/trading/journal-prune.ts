/**
 * Journal retention: delete the high-rate housekeeping rows (acks, rejects, cancel requests and confirmations,
 * parameter sets, status rows) older than a date. Orders, modifies, fills, funding, adjustments, risk events and
 * session markers are never deleted, nor the orders/fills/funding/positions tables: the money record stays
 * whole. The newest row of each type is kept (so `trade status` still shows the last parameters and state), and
 * parameter sets from the keyframe the kept ones are encoded against (./journal-params.ts).
 * Deletes run in small transactions so a trader writing to the same journal is never held up for long; freed
 * pages go back to the file system when the journal was created with incremental auto-vacuum (every journal
 * created since that fix); an older one reuses them for new rows, and `vacuum` rewrites it to its smallest size
 * and switches it to incremental auto-vacuum (`cjmm trade prune --vacuum`).
 * Used by `cjmm trade prune` and by the journal's maintenance worker (`journalRetentionDays`).
 */
import type { DatabaseSync } from 'node:sqlite';
import { chainOf, isDelta } from './journal-params.ts';

export const PRUNABLE_TYPES = ['ack', 'reject', 'cancel', 'params', 'state'] as const;
export const NEVER_PRUNED = ['order', 'modify', 'fill', 'funding', 'adjustment', 'risk', 'session'] as const;

export interface PruneResult {
  /** Rows older than this (receive time, ms) were candidates. */
  before: number;
  /** Rows deleted (or that would be, with dryRun) by type. */
  deleted: Record<string, number>;
  /** Journal file size before and after (bytes; 0 for in-memory). */
  bytesBefore: number;
  bytesAfter: number;
  dryRun: boolean;
  /** Does the journal give freed pages back to the file system (incremental auto-vacuum), after this prune? */
  incrementalVacuum: boolean;
  /** The journal was rewritten (VACUUM). */
  vacuumed: boolean;
}

function pageBytes(db: DatabaseSync): number {
  const n = (db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
  const sz = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
  return n * sz;
}

/** Delete prunable rows older than `before` (ms); `batch` rows per transaction. */
export function pruneJournal(
  db: DatabaseSync,
  before: number,
  opts: { dryRun?: boolean; vacuum?: boolean; batch?: number; onBatch?: () => void } = {},
): PruneResult {
  const batch = opts.batch ?? 500;
  const dryRun = opts.dryRun ?? false;
  const bytesBefore = pageBytes(db);
  const deleted: Record<string, number> = {};
  for (const type of PRUNABLE_TYPES) {
    // Keep the newest row of the type whatever its age.
    const newest = db.prepare('SELECT MAX(id) AS id FROM events WHERE type = ?').get(type) as {
      id: number | null;
    };
    if (newest.id === null) continue;
    let maxId = newest.id - 1;
    if (type === 'params') maxId = Math.min(maxId, paramsCut(db, before) - 1);
    if (maxId <= 0) continue;
    if (dryRun) {
      const n = db
        .prepare('SELECT COUNT(*) AS n FROM events WHERE type = ? AND rx_time < ? AND id <= ?')
        .get(type, before, maxId) as { n: number };
      if (n.n > 0) deleted[type] = n.n;
      continue;
    }
    const del = db.prepare(
      `DELETE FROM events WHERE id IN
         (SELECT id FROM events WHERE type = ? AND rx_time < ? AND id <= ? ORDER BY type, id LIMIT ?)`,
    );
    let total = 0;
    for (;;) {
      const r = del.run(type, before, maxId, batch);
      const n = Number(r.changes);
      total += n;
      opts.onBatch?.();
      if (n < batch) break;
    }
    if (total > 0) deleted[type] = total;
  }
  const autoVacuum = () => (db.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum;
  let vacuumed = false;
  if (!dryRun) {
    if (opts.vacuum) {
      // One rewrite: the smallest file, and incremental auto-vacuum from now on.
      db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
      vacuumed = true;
    } else if (autoVacuum() === 2) {
      db.exec('PRAGMA incremental_vacuum');
    }
  }
  return {
    before,
    deleted,
    bytesBefore,
    bytesAfter: pageBytes(db),
    dryRun,
    incrementalVacuum: autoVacuum() === 2,
    vacuumed,
  };
}

/**
 * The oldest params row id that must stay when cutting at `before`: parameter deltas kept after the cut need
 * the keyframe of their chain, which may be older than `before`.
 */
function paramsCut(db: DatabaseSync, before: number): number {
  const first = db
    .prepare("SELECT MIN(id) AS id FROM events WHERE type = 'params' AND rx_time >= ?")
    .get(before) as { id: number | null };
  if (first.id === null) {
    // Nothing after the cut but the newest row (kept anyway): keep its chain back to its keyframe.
    const newest = db.prepare("SELECT MAX(id) AS id FROM events WHERE type = 'params'").get() as {
      id: number;
    };
    return keyframesBack(db, newest.id + 1, undefined);
  }
  // Chains with deltas after the cut before any keyframe of theirs: their keyframes are before it.
  const open = new Set<number>();
  const closed = new Set<number>();
  for (const r of db
    .prepare("SELECT data FROM events WHERE type = 'params' AND id >= ? ORDER BY id LIMIT 256")
    .iterate(first.id) as Iterable<{ data: string }>) {
    const d = JSON.parse(r.data) as unknown;
    const c = chainOf(d);
    if (c === undefined || (d as Record<string, unknown>).event !== undefined || closed.has(c)) continue;
    if (isDelta(d)) open.add(c);
    else closed.add(c);
  }
  if (open.size === 0) return first.id;
  return keyframesBack(db, first.id, open);
}

/** Walking back from `fromId` (exclusive), the id of the oldest keyframe needed by the chains in `open`. */
function keyframesBack(db: DatabaseSync, fromId: number, open: Set<number> | undefined): number {
  let cut = fromId;
  const need = open ?? new Set<number>();
  let first = open === undefined;
  for (const r of db
    .prepare("SELECT id, data FROM events WHERE type = 'params' AND id < ? ORDER BY id DESC")
    .iterate(fromId) as Iterable<{ id: number; data: string }>) {
    const d = JSON.parse(r.data) as unknown;
    const c = chainOf(d);
    if (c === undefined || (d as Record<string, unknown>).event !== undefined) continue;
    if (first) {
      // The newest row: its own chain is what is needed.
      first = false;
      if (!isDelta(d)) return r.id;
      need.add(c);
    }
    if (need.has(c) && !isDelta(d)) {
      need.delete(c);
      cut = r.id;
      if (need.size === 0) return cut;
    }
  }
  return need.size === 0 ? cut : 0;
}
