/**
 * The journal's SQLite schema (version 2) and the migration of version-0 journals (written before fills were
 * reconciled with the venue, funding was booked and the tables were made compact).
 *
 * - events: every entry, append-only; `data` is JSON. Parameter sets are stored compactly (./journal-params.ts).
 *   Ids are never reused: pruning never deletes the newest row (no AUTOINCREMENT, which would rewrite the
 *   sqlite_sequence page in every transaction).
 * - orders: the last state of each order by cloid (WITHOUT ROWID: one b-tree, no duplicate key index); only the
 *   few open orders are indexed by state.
 * - fills: one row per venue fill, unique by (tid, cloid); `closed_pnl` is the P&L the fill realised (average
 *   cost, as Hyperliquid's closedPnl).
 * - funding: one row per venue funding event (or paper hour), unique by (coin, time).
 * - positions: per coin, what follows from the fills, funding and explicit adjustments: position, average entry,
 *   cash flow, fees, realised P&L, funding.
 * - journal_meta: housekeeping of the maintenance thread (its last checkpoint).
 */
import type { DatabaseSync } from 'node:sqlite';

export const JOURNAL_SCHEMA_VERSION = 2;

const TABLES = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  ex_time REAL,
  rx_time REAL NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events(type, id);
CREATE TABLE IF NOT EXISTS orders (
  cloid TEXT PRIMARY KEY,
  oid INTEGER,
  coin TEXT NOT NULL,
  side TEXT NOT NULL,
  px REAL NOT NULL,
  sz REAL NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  created_rx REAL NOT NULL,
  updated_rx REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fills (
  tid INTEGER NOT NULL,
  cloid TEXT NOT NULL,
  oid INTEGER,
  coin TEXT NOT NULL,
  side TEXT NOT NULL,
  px REAL NOT NULL,
  sz REAL NOT NULL,
  fee REAL NOT NULL,
  liquidity TEXT,
  ex_time REAL,
  rx_time REAL NOT NULL,
  closed_pnl REAL,
  UNIQUE (tid, cloid)
);
CREATE TABLE IF NOT EXISTS positions (
  coin TEXT PRIMARY KEY,
  position REAL NOT NULL,
  cash REAL NOT NULL,
  fees REAL NOT NULL,
  fills INTEGER NOT NULL,
  updated_rx REAL NOT NULL,
  avg_entry REAL,
  realised REAL NOT NULL DEFAULT 0,
  funding REAL NOT NULL DEFAULT 0
);
`;

const V2_OBJECTS = `
CREATE INDEX IF NOT EXISTS orders_open ON orders(state) WHERE state IN ('pending', 'open');
CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS funding (
  coin TEXT NOT NULL,
  time REAL NOT NULL,
  usdc REAL NOT NULL,
  szi REAL NOT NULL,
  rate REAL NOT NULL,
  px REAL,
  source TEXT NOT NULL,
  rx_time REAL NOT NULL,
  PRIMARY KEY (coin, time)
) WITHOUT ROWID;
`;

/** Create the schema of a new journal, or bring an older one to the current version. */
export function ensureSchema(db: DatabaseSync): void {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version >= JOURNAL_SCHEMA_VERSION) return;
  const hasEvents =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
  if (!hasEvents) {
    // A new journal: pages freed by pruning go back to the file system (PRAGMA incremental_vacuum).
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
    db.exec(TABLES);
    db.exec(V2_OBJECTS);
    db.exec(`PRAGMA user_version = ${JOURNAL_SCHEMA_VERSION}`);
    return;
  }
  migrateFromV0(db);
}

function columns(db: DatabaseSync, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
}

/**
 * Version 0 → 2: new columns and tables, the compact open-orders index, and positions rebuilt from the fills
 * (version 0 let a state entry overwrite the position; from now on only fills, funding and explicit adjustments
 * move it: a restart then checks the result against the venue and journals any difference).
 */
function migrateFromV0(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const pos = columns(db, 'positions');
    if (!pos.has('avg_entry')) db.exec('ALTER TABLE positions ADD COLUMN avg_entry REAL');
    if (!pos.has('realised')) db.exec('ALTER TABLE positions ADD COLUMN realised REAL NOT NULL DEFAULT 0');
    if (!pos.has('funding')) db.exec('ALTER TABLE positions ADD COLUMN funding REAL NOT NULL DEFAULT 0');
    if (!columns(db, 'fills').has('closed_pnl')) db.exec('ALTER TABLE fills ADD COLUMN closed_pnl REAL');
    db.exec('DROP INDEX IF EXISTS orders_state');
    db.exec(V2_OBJECTS);
    rebuildPositions(db);
    db.exec(`PRAGMA user_version = ${JOURNAL_SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/** Average-cost book of one coin, exactly as the engine's Portfolio and Hyperliquid's closedPnl keep it. */
export interface PositionBook {
  position: number;
  avgEntry: number;
  cash: number;
  fees: number;
  realised: number;
  funding: number;
  fills: number;
}

export const emptyBook = (): PositionBook => ({
  position: 0,
  avgEntry: Number.NaN,
  cash: 0,
  fees: 0,
  realised: 0,
  funding: 0,
  fills: 0,
});

/** Positions are snapped like the engine's portfolio, so sums of lot sizes stay exact. */
export const snapPosition = (x: number) => Math.round(x * 1e10) / 1e10;

/** Book one fill; returns the P&L it realised (before fees). */
export function bookFill(b: PositionBook, side: 'bid' | 'ask', px: number, sz: number, fee: number): number {
  const signed = side === 'bid' ? sz : -sz;
  const start = b.position;
  const next = snapPosition(start + signed);
  let closed = 0;
  if (start !== 0 && Math.sign(start) !== Math.sign(signed)) {
    closed = Math.min(Math.abs(start), sz) * (px - b.avgEntry) * Math.sign(start);
  }
  if (next === 0) b.avgEntry = Number.NaN;
  else if (start === 0 || Math.sign(next) !== Math.sign(start)) b.avgEntry = px;
  else if (Math.abs(next) > Math.abs(start))
    b.avgEntry = (b.avgEntry * Math.abs(start) + px * sz) / Math.abs(next);
  b.position = next;
  b.cash -= signed * px + fee;
  b.fees += fee;
  b.realised += closed;
  b.fills++;
  return closed;
}

/** Recompute every coin's position from the fills, funding and adjustments journalled (in order). */
export function rebuildPositions(db: DatabaseSync): void {
  const books = new Map<string, PositionBook>();
  const book = (coin: string) => {
    let b = books.get(coin);
    if (!b) books.set(coin, (b = emptyBook()));
    return b;
  };
  const last = new Map<string, number>();
  for (const f of db.prepare('SELECT rowid, * FROM fills ORDER BY rowid').iterate() as Iterable<
    Record<string, unknown>
  >) {
    const b = book(f.coin as string);
    const closed = bookFill(b, f.side as 'bid' | 'ask', f.px as number, f.sz as number, f.fee as number);
    db.prepare('UPDATE fills SET closed_pnl = ? WHERE rowid = ?').run(closed, f.rowid as number);
    last.set(f.coin as string, Math.max(last.get(f.coin as string) ?? 0, f.rx_time as number));
  }
  const hasFunding =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'funding'").get() !== undefined;
  if (hasFunding) {
    for (const r of db.prepare('SELECT coin, usdc, rx_time FROM funding ORDER BY time').iterate() as Iterable<
      Record<string, unknown>
    >) {
      const b = book(r.coin as string);
      b.cash += r.usdc as number;
      b.funding += r.usdc as number;
    }
  }
  for (const e of db
    .prepare("SELECT data, rx_time FROM events WHERE type = 'adjustment' ORDER BY id")
    .iterate() as Iterable<Record<string, unknown>>) {
    const d = JSON.parse(e.data as string) as Record<string, unknown>;
    if (typeof d.coin !== 'string' || typeof d.position !== 'number') continue;
    applyAdjustment(book(d.coin), d.position, Number(d.px), Number(d.entryPx));
  }
  db.exec('DELETE FROM positions');
  const ins = db.prepare(
    `INSERT INTO positions (coin, position, cash, fees, fills, updated_rx, avg_entry, realised, funding)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const [coin, b] of books) {
    ins.run(
      coin,
      b.position,
      b.cash,
      b.fees,
      b.fills,
      last.get(coin) ?? 0,
      Number.isFinite(b.avgEntry) ? b.avgEntry : null,
      b.realised,
      b.funding,
    );
  }
}

/**
 * An explicit adjustment to `position` (a difference with the venue that fills cannot explain), booked at
 * `px` (the venue's entry price when known, else the mark): cash moves by −Δ·px, realised P&L is untouched.
 */
export function applyAdjustment(b: PositionBook, position: number, px: number, entryPx: number): void {
  const target = snapPosition(position);
  const delta = target - b.position;
  const at = Number.isFinite(px) && px > 0 ? px : Number.isFinite(entryPx) && entryPx > 0 ? entryPx : 0;
  b.cash -= delta * at;
  if (target === 0) b.avgEntry = Number.NaN;
  else if (Number.isFinite(entryPx) && entryPx > 0) b.avgEntry = entryPx;
  else if (b.position === 0 || Math.sign(target) !== Math.sign(b.position)) b.avgEntry = at;
  else if (Math.abs(target) > Math.abs(b.position) && at > 0)
    b.avgEntry = (b.avgEntry * Math.abs(b.position) + at * Math.abs(delta)) / Math.abs(target);
  b.position = target;
}
