/**
 * The trading journal in SQLite (node:sqlite, WAL): every order, ack, reject, fill, cancel, modify, parameter
 * set, risk event and state snapshot, each with both timestamps (exchange and receive). Derived tables keep
 * what a restart and `cjmm trade status` need: orders by cloid with their last state, fills unique by
 * (tid, cloid) so a fill re-sent by the exchange (reconnect snapshot, duplicate message) is never counted
 * twice, and the position and cash flow per coin.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { JournalEntryType as EngineJournalEntryType } from '../engine/journal.ts';

/** The engine's entry types plus 'session' for start/stop markers. */
export type JournalEntryType = EngineJournalEntryType | 'session';

/** Structurally the engine's JournalEntry (src/engine/journal.ts), plus 'session' for start/stop markers. */
export interface JournalEntry {
  type: JournalEntryType;
  exTime?: number;
  rxTime: number;
  data: unknown;
}

export interface JournalOrderRow {
  cloid: string;
  oid: number | null;
  coin: string;
  side: string;
  px: number;
  sz: number;
  state: string;
  reason: string | null;
  createdRx: number;
  updatedRx: number;
}

export interface JournalEventRow {
  id: number;
  type: string;
  exTime: number | null;
  rxTime: number;
  data: unknown;
}

export interface JournalStatus {
  path: string;
  lastSession: { rxTime: number; data: unknown } | null;
  positions: {
    coin: string;
    position: number;
    cash: number;
    fees: number;
    fills: number;
    updatedRx: number;
  }[];
  openOrders: JournalOrderRow[];
  lastParams: { rxTime: number; exTime: number | null; data: unknown } | null;
  lastRisk: { rxTime: number; data: unknown } | null;
  lastState: { rxTime: number; data: unknown } | null;
  counts: Record<string, number>;
}

const OPEN_STATES = "('pending','open')";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
);
CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
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
  UNIQUE (tid, cloid)
);
CREATE TABLE IF NOT EXISTS positions (
  coin TEXT PRIMARY KEY,
  position REAL NOT NULL,
  cash REAL NOT NULL,
  fees REAL NOT NULL,
  fills INTEGER NOT NULL,
  updated_rx REAL NOT NULL
);
`;

type Rec = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Entry data may be one object or a batch (the engine journals place/cancel batches). */
function items(data: unknown): Rec[] {
  if (Array.isArray(data)) return data.filter((d): d is Rec => d !== null && typeof d === 'object');
  if (data !== null && typeof data === 'object') {
    const d = data as Rec;
    for (const k of ['orders', 'cancels', 'mods', 'fills']) if (Array.isArray(d[k])) return items(d[k]);
    return [d];
  }
  return [];
}

export class SqliteJournal {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly insEvent: StatementSync;
  private readonly insOrder: StatementSync;
  private readonly updOrder: StatementSync;
  private readonly insFill: StatementSync;
  private readonly getPos: StatementSync;
  private readonly upsertPos: StatementSync;
  private closed = false;
  private pending: JournalEntry[] = [];
  private flushScheduled = false;
  /** Fills refused as duplicates since opening (for reports and tests). */
  duplicateFills = 0;

  /** Coin assumed for entries that do not name one (the engine journals one instrument per session). */
  private readonly defaultCoin: string;

  constructor(path: string, opts: { coin?: string } = {}) {
    this.path = path;
    this.defaultCoin = opts.coin ?? '';
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 2000;');
    this.db.exec(SCHEMA);
    this.insEvent = this.db.prepare('INSERT INTO events (type, ex_time, rx_time, data) VALUES (?, ?, ?, ?)');
    this.insOrder = this.db.prepare(
      `INSERT INTO orders (cloid, oid, coin, side, px, sz, state, reason, created_rx, updated_rx)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
       ON CONFLICT(cloid) DO UPDATE SET px = excluded.px, sz = excluded.sz, updated_rx = excluded.updated_rx`,
    );
    this.updOrder = this.db.prepare(
      `UPDATE orders SET state = ?, oid = COALESCE(?, oid), px = COALESCE(?, px), sz = COALESCE(?, sz),
       reason = COALESCE(?, reason), updated_rx = ? WHERE cloid = ?`,
    );
    this.insFill = this.db.prepare(
      `INSERT OR IGNORE INTO fills (tid, cloid, oid, coin, side, px, sz, fee, liquidity, ex_time, rx_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.getPos = this.db.prepare('SELECT position, cash, fees, fills FROM positions WHERE coin = ?');
    this.upsertPos = this.db.prepare(
      `INSERT INTO positions (coin, position, cash, fees, fills, updated_rx) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(coin) DO UPDATE SET position = excluded.position, cash = excluded.cash, fees = excluded.fees,
       fills = excluded.fills, updated_rx = excluded.updated_rx`,
    );
  }

  /**
   * Record one entry. Returns false when the entry was a fill already journalled (same tid and cloid): such a
   * duplicate changes nothing and is not written again.
   */
  record(entry: JournalEntry): boolean {
    if (this.closed) return false;
    if (entry.type === 'fill' || entry.type === 'session') {
      // Fills answer "new or duplicate?" at once; session markers must not wait.
      this.flush();
      return this.apply(entry);
    }
    // Everything else is written in one transaction per turn of the event loop, off the quoting path
    // (an order is journalled before it is sent; a crash loses at most the entries of the current turn,
    // and a restart reconciles with the exchange anyway).
    this.pending.push(entry);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Write the entries waiting for the end of this turn (reads call it first). */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.db.exec('BEGIN');
    try {
      for (const e of batch) this.apply(e);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private apply(entry: JournalEntry): boolean {
    const rx = entry.rxTime;
    const ex = entry.exTime ?? null;
    if (entry.type === 'fill') {
      let anyNew = false;
      for (const f of items(entry.data)) if (this.recordFill(f, ex, rx)) anyNew = true;
      if (!anyNew) {
        this.duplicateFills++;
        return false;
      }
    }
    this.insEvent.run(entry.type, ex, rx, JSON.stringify(entry.data ?? null));
    switch (entry.type) {
      case 'order':
        for (const o of items(entry.data)) this.recordOrder(o, rx);
        break;
      case 'modify':
        for (const m of items(entry.data)) this.recordModify(m, rx);
        break;
      case 'ack':
      case 'reject':
      case 'cancel':
        for (const u of items(entry.data)) this.recordUpdate(entry.type, u, rx);
        break;
      case 'state':
        for (const s of items(entry.data)) this.recordState(s, rx);
        break;
      default:
        break;
    }
    return true;
  }

  private recordOrder(o: Rec, rx: number): void {
    const cloid = str(o.cloid);
    if (!cloid) return;
    this.insOrder.run(
      cloid,
      num(o.oid) ?? null,
      str(o.coin) ?? this.defaultCoin,
      str(o.side) ?? '',
      num(o.px) ?? 0,
      num(o.sz) ?? 0,
      str(o.state) ?? 'pending',
      rx,
      rx,
    );
  }

  private recordModify(m: Rec, rx: number): void {
    const cloid = str(m.cloid);
    const newCloid = str(m.newCloid);
    if (!cloid || !newCloid) return;
    const old = this.db.prepare('SELECT side, coin FROM orders WHERE cloid = ?').get(cloid) as
      | { side: string; coin: string }
      | undefined;
    this.updOrder.run('modified', null, null, null, `replaced by ${newCloid}`, rx, cloid);
    this.insOrder.run(
      newCloid,
      null,
      str(m.coin) ?? old?.coin ?? this.defaultCoin,
      str(m.side) ?? old?.side ?? '',
      num(m.px) ?? 0,
      num(m.sz) ?? 0,
      'pending',
      rx,
      rx,
    );
  }

  private recordUpdate(type: string, u: Rec, rx: number): void {
    const cloid = str(u.cloid);
    if (!cloid) return;
    // A cancel REQUEST carries no state: it leaves the order as it is until the venue confirms.
    const fallback = type === 'reject' ? 'rejected' : type === 'ack' ? 'open' : undefined;
    const state = str(u.state) ?? fallback;
    if (!state) return;
    const r = this.updOrder.run(
      state,
      num(u.oid) ?? null,
      num(u.px) ?? null,
      num(u.sz) ?? null,
      str(u.reason) ?? null,
      rx,
      cloid,
    );
    if (r.changes === 0 && (state === 'open' || state === 'pending')) {
      // An order we did not place in this journal (e.g. found resting on the exchange after a crash).
      this.insOrder.run(
        cloid,
        num(u.oid) ?? null,
        str(u.coin) ?? this.defaultCoin,
        str(u.side) ?? '',
        num(u.px) ?? 0,
        num(u.sz) ?? 0,
        state,
        rx,
        rx,
      );
    }
  }

  private recordFill(f: Rec, ex: number | null, rx: number): boolean {
    const tid = num(f.tid);
    const cloid = str(f.cloid) ?? (num(f.oid) !== undefined ? `oid:${f.oid}` : undefined);
    const coin = str(f.coin) ?? (this.defaultCoin || undefined);
    const side = str(f.side);
    const px = num(f.px);
    const sz = num(f.sz);
    if (
      tid === undefined ||
      !cloid ||
      !coin ||
      (side !== 'bid' && side !== 'ask') ||
      px === undefined ||
      !sz
    ) {
      return false;
    }
    const fee = num(f.fee) ?? 0;
    const r = this.insFill.run(
      tid,
      cloid,
      num(f.oid) ?? null,
      coin,
      side,
      px,
      sz,
      fee,
      str(f.liquidity) ?? null,
      num(f.exTime) ?? ex,
      num(f.rxTime) ?? rx,
    );
    if (r.changes === 0) return false;
    const p = (this.getPos.get(coin) as { position: number; cash: number; fees: number; fills: number }) ?? {
      position: 0,
      cash: 0,
      fees: 0,
      fills: 0,
    };
    const sgn = side === 'bid' ? 1 : -1;
    this.upsertPos.run(
      coin,
      // Snapped like the engine's portfolio, so sums of lot sizes stay exact.
      Math.round((p.position + sgn * sz) * 1e10) / 1e10,
      p.cash - sgn * px * sz - fee,
      p.fees + fee,
      p.fills + 1,
      rx,
    );
    return true;
  }

  /** A 'state' entry with {coin, position} is authoritative (exchange reconciliation or recovery). */
  private recordState(s: Rec, rx: number): void {
    const coin = str(s.coin) ?? (this.defaultCoin || undefined);
    const position = num(s.position);
    if (!coin || position === undefined) return;
    const p = (this.getPos.get(coin) as { position: number; cash: number; fees: number; fills: number }) ?? {
      position: 0,
      cash: 0,
      fees: 0,
      fills: 0,
    };
    if (Math.abs(p.position - position) < 1e-12) return;
    this.upsertPos.run(coin, position, p.cash, p.fees, p.fills, rx);
  }

  /** Whether a fill (tid, cloid) is already journalled. */
  hasFill(tid: number, cloid: string): boolean {
    this.flush();
    return this.db.prepare('SELECT 1 FROM fills WHERE tid = ? AND cloid = ?').get(tid, cloid) !== undefined;
  }

  position(coin: string): number {
    this.flush();
    const p = this.getPos.get(coin) as { position: number } | undefined;
    return p?.position ?? 0;
  }

  openOrders(coin?: string): JournalOrderRow[] {
    this.flush();
    const rows = (
      coin === undefined
        ? this.db.prepare(`SELECT * FROM orders WHERE state IN ${OPEN_STATES} ORDER BY created_rx`).all()
        : this.db
            .prepare(`SELECT * FROM orders WHERE state IN ${OPEN_STATES} AND coin = ? ORDER BY created_rx`)
            .all(coin)
    ) as Rec[];
    return rows.map(orderRow);
  }

  fills(coin?: string): Rec[] {
    this.flush();
    return (
      coin === undefined
        ? this.db.prepare('SELECT * FROM fills ORDER BY rowid').all()
        : this.db.prepare('SELECT * FROM fills WHERE coin = ? ORDER BY rowid').all(coin)
    ) as Rec[];
  }

  private lastOf(type: string): { rxTime: number; exTime: number | null; data: unknown } | null {
    const r = this.db
      .prepare('SELECT ex_time, rx_time, data FROM events WHERE type = ? ORDER BY id DESC LIMIT 1')
      .get(type) as Rec | undefined;
    if (!r) return null;
    return {
      rxTime: r.rx_time as number,
      exTime: (r.ex_time as number | null) ?? null,
      data: JSON.parse(r.data as string),
    };
  }

  status(): JournalStatus {
    this.flush();
    const positions = (this.db.prepare('SELECT * FROM positions ORDER BY coin').all() as Rec[]).map((r) => ({
      coin: r.coin as string,
      position: r.position as number,
      cash: r.cash as number,
      fees: r.fees as number,
      fills: r.fills as number,
      updatedRx: r.updated_rx as number,
    }));
    const counts: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT type, COUNT(*) AS n FROM events GROUP BY type').all() as Rec[]) {
      counts[r.type as string] = r.n as number;
    }
    return {
      path: this.path,
      lastSession: this.lastOf('session'),
      positions,
      openOrders: this.openOrders(),
      lastParams: this.lastOf('params'),
      lastRisk: this.lastOf('risk'),
      lastState: this.lastOf('state'),
      counts,
    };
  }

  history(opts: { limit?: number; type?: string } = {}): JournalEventRow[] {
    this.flush();
    const limit = opts.limit ?? 50;
    const rows = (
      opts.type === undefined
        ? this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)
        : this.db
            .prepare('SELECT * FROM events WHERE type = ? ORDER BY id DESC LIMIT ?')
            .all(opts.type, limit)
    ) as Rec[];
    return rows.reverse().map((r) => ({
      id: r.id as number,
      type: r.type as string,
      exTime: (r.ex_time as number | null) ?? null,
      rxTime: r.rx_time as number,
      data: JSON.parse(r.data as string),
    }));
  }

  /** Set an order's final state without an event row (e.g. 'filled': its fills are the events). */
  markOrder(cloid: string, state: string, rxTime: number): void {
    this.flush();
    if (this.closed) return;
    this.updOrder.run(state, null, null, null, null, rxTime, cloid);
  }

  /** Mark every order still open in the journal as canceled (after a confirmed cancel-all on the exchange). */
  closeOpenOrders(rxTime: number, reason: string): number {
    this.flush();
    const r = this.db
      .prepare(
        `UPDATE orders SET state = 'canceled', reason = ?, updated_rx = ? WHERE state IN ${OPEN_STATES}`,
      )
      .run(reason, rxTime);
    return Number(r.changes);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

function orderRow(r: Rec): JournalOrderRow {
  return {
    cloid: r.cloid as string,
    oid: (r.oid as number | null) ?? null,
    coin: r.coin as string,
    side: r.side as string,
    px: r.px as number,
    sz: r.sz as number,
    state: r.state as string,
    reason: (r.reason as string | null) ?? null,
    createdRx: r.created_rx as number,
    updatedRx: r.updated_rx as number,
  };
}

export function openJournal(path: string, opts: { coin?: string } = {}): SqliteJournal {
  return new SqliteJournal(path, opts);
}

/** Open an existing journal (for `trade status` / `trade history`); a clear error if there is none. */
export function openExistingJournal(path: string): SqliteJournal {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new Error(`--journal: no journal at ${path} (run \`cjmm trade\` first, or pass --journal <path>)`);
  }
  return new SqliteJournal(path);
}
