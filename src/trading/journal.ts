/**
 * The trading journal in SQLite (node:sqlite, WAL): every order, ack, reject, fill, cancel, modify, parameter
 * set, risk event, state snapshot, funding payment and position adjustment, each with both timestamps (exchange
 * and receive). Derived tables keep what a restart and `cjmm trade status` need: orders by cloid with their last
 * state, fills journalled exactly once (keyed by the venue's trade id), funding once per venue event, and per
 * coin the position, average entry, cash flow, fees, realised P&L and funding — all following from the fills,
 * the funding and explicit adjustments (a difference with the venue that fills cannot explain), never from a
 * status snapshot. Schema: ./journal-schema.ts; compact parameter sets: ./journal-params.ts; retention:
 * ./journal-prune.ts; WAL checkpoints off the trading thread: ./journal-maintenance.ts.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { JournalEntryType as EngineJournalEntryType } from '../engine/journal.ts';
import { JournalMaintenance, type MaintenanceOptions } from './journal-maintenance.ts';
import { chainOf, expandParams, isDelta, ParamsEncoder, strip } from './journal-params.ts';
import { type PruneResult, pruneJournal } from './journal-prune.ts';
import {
  applyAdjustment,
  bookFill,
  emptyBook,
  ensureSchema,
  type PositionBook,
  rebuildPositions,
} from './journal-schema.ts';

/**
 * The engine's entry types, plus 'session' (start/stop markers and the start-up reconciliation), 'funding'
 * (one per venue funding event, or paper hour) and 'adjustment' (a position difference with the venue that no
 * fill explains).
 */
export type JournalEntryType = EngineJournalEntryType | 'session' | 'funding' | 'adjustment';

/** Structurally the engine's JournalEntry (src/engine/journal.ts), with the trading session's extra types. */
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

/** One coin's book in the journal. */
export interface JournalPosition {
  coin: string;
  position: number;
  /** Average entry price of the open position (null when flat). */
  avgEntry: number | null;
  /** −Σ signed notional − Σ fees + Σ funding − Σ adjustments × price: net P&L = cash + position × mark. */
  cash: number;
  fees: number;
  /** P&L realised by position reductions, before fees (Hyperliquid's closedPnl). */
  realised: number;
  /** Funding received (negative = paid). */
  funding: number;
  fills: number;
  updatedRx: number;
}

export interface JournalStatus {
  path: string;
  lastSession: { rxTime: number; data: unknown } | null;
  positions: JournalPosition[];
  openOrders: JournalOrderRow[];
  lastParams: { rxTime: number; exTime: number | null; data: unknown } | null;
  lastRisk: { rxTime: number; data: unknown } | null;
  lastState: { rxTime: number; data: unknown } | null;
  /** The newest status row of each coin (a process trading several coins writes one per coin), coin order. */
  lastStates?: { coin: string; rxTime: number; data: unknown }[];
  lastAdjustment: { rxTime: number; data: unknown } | null;
  counts: Record<string, number>;
  /** Journal file + WAL, bytes. */
  sizeBytes: number;
}

/** A venue fill as the journal needs it (the engine's Fill, or one recovered from userFillsByTime). */
export interface JournalFill {
  tid: number;
  cloid?: string;
  oid?: number;
  coin: string;
  side: 'bid' | 'ask';
  px: number;
  sz: number;
  fee: number;
  liquidity?: string;
  exTime?: number;
}

export interface JournalOptions {
  /** Coin assumed for entries that do not name one (the engine journals one instrument per session). */
  coin?: string;
  /** Start the maintenance thread (WAL checkpoints, retention). Sessions do; readers do not. */
  maintenance?: MaintenanceOptions;
}

/** Order states: still live, and the final ones fills can decide. */
const OPEN_STATES = "('pending','open')";
export const PARTIALLY_FILLED = 'partially filled';
/** Reason of an order while a modify replacing it is in flight. */
const REPLACING = 'replacing:';
/** Write-time samples kept for the p50/p99 figures. */
const WRITE_SAMPLES = 8192;

type Rec = Record<string, unknown>;
/** An order's final state set without an event row (queued like an entry). */
interface OrderMark {
  mark: true;
  cloid: string;
  state: string;
  rxTime: number;
}
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
  private readonly findFill: StatementSync;
  private readonly getPos: StatementSync;
  private readonly upsertPos: StatementSync;
  private readonly insFunding: StatementSync;
  private closed = false;
  /** Entries (and order-state marks) waiting for the end of this event-loop turn. */
  private pending: (JournalEntry | OrderMark)[] = [];
  private flushScheduled = false;
  private flushFailures = 0;
  private readonly params = new ParamsEncoder();
  /** The maintenance thread (WAL checkpoints, retention), when the journal was opened with one. */
  readonly maintenance: JournalMaintenance | undefined;
  /** Fills refused as duplicates since opening (for reports and tests). */
  duplicateFills = 0;
  /** Funding events refused as duplicates since opening. */
  duplicateFundings = 0;
  /** Transactions written, and the last WRITE_SAMPLES write times (µs) for the p50/p99 figures. */
  writes = 0;
  private readonly writeUs = new Float64Array(WRITE_SAMPLES);

  /** Coin assumed for entries that do not name one (the engine journals one instrument per session). */
  private readonly defaultCoin: string;
  private readonly statements = new Map<string, StatementSync>();

  /** A prepared statement, prepared once per connection. */
  private stmt(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  constructor(path: string, opts: JournalOptions = {}) {
    this.path = path;
    this.defaultCoin = opts.coin ?? '';
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    // Incremental auto-vacuum (pages freed by prune go back to the file system) can only be chosen before the
    // file's first page is written, which switching to WAL does: so first. A no-op on an existing journal.
    // WAL: a crash (kill -9) loses at most the transaction being written; committed rows are in the WAL.
    // The WAL is checkpointed by the maintenance thread (off the quoting thread); a trader's own automatic
    // checkpoint only as a safety net far beyond what the thread lets accumulate (10,000 pages), and a reset
    // WAL file is truncated to 1 MB. Readers (status, history, prune) checkpoint the SQLite default way.
    // busy_timeout before anything that may need a lock: a reader (`cjmm status`) opening the journal of a
    // running trader otherwise failed at once with "database is locked" when the trader was writing.
    this.db.exec(
      `PRAGMA busy_timeout = 2000; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 1048576;${
        opts.maintenance ? ' PRAGMA wal_autocheckpoint = 10000;' : ''
      }`,
    );
    ensureSchema(this.db);
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
      `INSERT OR IGNORE INTO fills (tid, cloid, oid, coin, side, px, sz, fee, liquidity, ex_time, rx_time, closed_pnl)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Exactly once per venue trade id: the same tid for the same order (by cloid or by oid) is the same fill.
    this.findFill = this.db.prepare(
      'SELECT 1 FROM fills WHERE tid = ? AND (cloid = ? OR (oid IS NOT NULL AND oid = ?)) LIMIT 1',
    );
    this.getPos = this.db.prepare('SELECT * FROM positions WHERE coin = ?');
    this.upsertPos = this.db.prepare(
      `INSERT INTO positions (coin, position, cash, fees, fills, updated_rx, avg_entry, realised, funding)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(coin) DO UPDATE SET position = excluded.position, cash = excluded.cash, fees = excluded.fees,
       fills = excluded.fills, updated_rx = excluded.updated_rx, avg_entry = excluded.avg_entry,
       realised = excluded.realised, funding = excluded.funding`,
    );
    this.insFunding = this.db.prepare(
      `INSERT OR IGNORE INTO funding (coin, time, usdc, szi, rate, px, source, rx_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    if (opts.maintenance && path !== ':memory:') {
      this.maintenance = new JournalMaintenance(path, opts.maintenance);
    }
  }

  /**
   * Record one entry. Returns false when the entry was a fill or funding event already journalled: such a
   * duplicate changes nothing and is not written again.
   */
  record(entry: JournalEntry): boolean {
    if (this.closed) return false;
    if (
      entry.type === 'fill' ||
      entry.type === 'session' ||
      entry.type === 'funding' ||
      entry.type === 'adjustment'
    ) {
      // Money entries answer "new or duplicate?" at once and are committed at once; session markers must
      // not wait.
      this.flush();
      return this.transaction(() => this.apply(entry));
    }
    // Everything else is written in one transaction per turn of the event loop, off the quoting path
    // (an order is journalled before it is sent; a crash loses at most the entries of the current turn,
    // and a restart reconciles with the exchange anyway).
    this.enqueue(entry);
    return true;
  }

  private enqueue(x: JournalEntry | OrderMark): void {
    this.pending.push(x);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Write the entries waiting for the end of this turn (reads call it first). */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.transaction(() => {
        for (const e of batch) {
          if ('mark' in e) this.updOrder.run(e.state, null, null, null, null, e.rxTime, e.cloid);
          else this.apply(e);
        }
      });
    } catch (err) {
      // Rolled back: nothing of the batch was written. Keep it (ahead of newer entries) and try again shortly,
      // so a transient lock never loses a row nor throws out of the event loop.
      this.pending = batch.concat(this.pending);
      this.flushFailures++;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => this.flush(), 50).unref();
      }
      // Locked for seconds on end: stop loudly rather than trade on without a record.
      if (this.flushFailures > 100) throw err;
      return;
    }
    this.flushFailures = 0;
  }

  private transaction<T>(fn: () => T): T {
    const t0 = performance.now();
    // IMMEDIATE: take the write lock up front (waiting up to busy_timeout). A deferred transaction that reads
    // first (e.g. isReplacement) and then writes fails at once with SQLITE_BUSY, without waiting, when another
    // connection (the maintenance thread) committed in between.
    this.db.exec('BEGIN IMMEDIATE');
    let out: T;
    try {
      out = fn();
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
    this.writeUs[this.writes++ % WRITE_SAMPLES] = (performance.now() - t0) * 1000;
    return out;
  }

  /** p50 and p99 of the recent transactions' write times (µs), and how many were written. */
  writeTimes(): { writes: number; p50Us: number; p99Us: number } {
    const n = Math.min(this.writes, WRITE_SAMPLES);
    const s = Array.from(this.writeUs.subarray(0, n)).sort((a, b) => a - b);
    const at = (p: number) => (n ? s[Math.min(n - 1, Math.floor(p * n))] : Number.NaN);
    return { writes: this.writes, p50Us: at(0.5), p99Us: at(0.99) };
  }

  private apply(entry: JournalEntry): boolean {
    const rx = entry.rxTime;
    const ex = entry.exTime ?? null;
    let data: unknown = entry.data ?? null;
    switch (entry.type) {
      case 'fill': {
        const fresh: Rec[] = [];
        for (const f of items(data)) {
          const stored = this.recordFill(f, ex, rx);
          if (stored) fresh.push(stored);
        }
        if (fresh.length === 0) {
          this.duplicateFills++;
          return false;
        }
        data = fresh.length === 1 ? fresh[0] : fresh;
        break;
      }
      case 'funding': {
        const d = this.recordFunding(data as Rec, ex, rx);
        if (!d) {
          this.duplicateFundings++;
          return false;
        }
        data = d;
        break;
      }
      case 'adjustment': {
        const d = this.recordAdjustment(data as Rec, rx);
        if (!d) return false;
        data = d;
        break;
      }
      case 'params':
        data = this.params.encode(data);
        break;
      case 'cancel':
        // The venue confirming the old half of an accepted modify: no row of its own (see replacedBy).
        if (this.isReplacement(data, rx)) return true;
        break;
      default:
        break;
    }
    this.insEvent.run(entry.type, ex, rx, JSON.stringify(data));
    switch (entry.type) {
      case 'order':
        for (const o of items(data)) this.recordOrder(o, rx);
        break;
      case 'modify':
        for (const m of items(data)) this.recordModify(m, rx);
        break;
      case 'ack':
      case 'reject':
      case 'cancel':
        for (const u of items(data)) this.recordUpdate(entry.type, u, rx);
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
    const old = this.stmt('SELECT side, coin FROM orders WHERE cloid = ?').get(cloid) as
      | { side: string; coin: string }
      | undefined;
    // The old order stays live until the venue confirms the replacement (a modify that never happened —
    // refused, or the process died first — leaves it live, to be settled from its fills); until then it
    // remembers what replaces it.
    this.stmt('UPDATE orders SET reason = ?, updated_rx = ? WHERE cloid = ?').run(
      `${REPLACING}${newCloid}`,
      rx,
      cloid,
    );
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
    let state = str(u.state) ?? fallback;
    if (!state) return;
    if (state === 'canceled') {
      // A cancelled order that had fills ends filled or partially filled.
      state = this.fateOf(cloid, 'canceled');
    }
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

  /**
   * A cancel confirmation of an order a modify replaced (its replacement pending, open or filled, not
   * rejected): the modify row already links the two, so the confirmation only marks the old order 'modified'
   * — the highest-rate row of quoting, written as no row at all. Returns whether it was one.
   */
  private isReplacement(data: unknown, rx: number): boolean {
    const u = items(data);
    if (u.length !== 1 || str(u[0].state) !== 'canceled') return false;
    const cloid = str(u[0].cloid);
    if (!cloid) return false;
    const row = this.stmt('SELECT reason FROM orders WHERE cloid = ?').get(cloid) as
      | { reason: string | null }
      | undefined;
    if (!row?.reason?.startsWith(REPLACING)) return false;
    const repl = this.stmt('SELECT state FROM orders WHERE cloid = ?').get(
      row.reason.slice(REPLACING.length),
    ) as { state: string } | undefined;
    if (!repl || repl.state === 'rejected') return false;
    this.stmt("UPDATE orders SET state = 'modified', reason = NULL, updated_rx = ? WHERE cloid = ?").run(
      rx,
      cloid,
    );
    return true;
  }

  /** What an order that is no longer live ended as, from its journalled fills. */
  private fateOf(cloid: string, otherwise: string): string {
    const r = this.stmt(
      'SELECT o.sz AS sz, (SELECT SUM(f.sz) FROM fills f WHERE f.cloid = o.cloid) AS filled FROM orders o WHERE o.cloid = ?',
    ).get(cloid) as { sz: number; filled: number | null } | undefined;
    const filled = r?.filled ?? 0;
    if (!r || !(filled > 0)) return otherwise;
    return filled >= r.sz * (1 - 1e-9) ? 'filled' : PARTIALLY_FILLED;
  }

  private book(coin: string): PositionBook {
    const p = this.getPos.get(coin) as Rec | undefined;
    if (!p) return emptyBook();
    return {
      position: p.position as number,
      avgEntry: (p.avg_entry as number | null) ?? Number.NaN,
      cash: p.cash as number,
      fees: p.fees as number,
      realised: (p.realised as number | null) ?? 0,
      funding: (p.funding as number | null) ?? 0,
      fills: p.fills as number,
    };
  }

  private saveBook(coin: string, b: PositionBook, rx: number): void {
    this.upsertPos.run(
      coin,
      b.position,
      b.cash,
      b.fees,
      b.fills,
      rx,
      Number.isFinite(b.avgEntry) ? b.avgEntry : null,
      b.realised,
      b.funding,
    );
  }

  /** The cloid of a venue order id, from the journal's orders (acks carry the oid). */
  cloidOfOid(oid: number): string | undefined {
    this.flush();
    const r = this.stmt('SELECT cloid FROM orders WHERE oid = ? LIMIT 1').get(oid) as
      | { cloid: string }
      | undefined;
    return r?.cloid;
  }

  /** Books one fill; returns what is stored for it, or undefined for a duplicate or an unusable fill. */
  private recordFill(f: Rec, ex: number | null, rx: number): Rec | undefined {
    const tid = num(f.tid);
    const oid = num(f.oid);
    let cloid = str(f.cloid);
    if (!cloid && oid !== undefined) {
      const r = this.stmt('SELECT cloid FROM orders WHERE oid = ? LIMIT 1').get(oid) as
        | { cloid: string }
        | undefined;
      cloid = r?.cloid ?? `oid:${oid}`;
    }
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
      return undefined;
    }
    if (this.findFill.get(tid, cloid, oid ?? null) !== undefined) return undefined;
    const fee = num(f.fee) ?? 0;
    const b = this.book(coin);
    const closedPnl = bookFill(b, side, px, sz, fee);
    const exTime = num(f.exTime) ?? ex;
    this.insFill.run(
      tid,
      cloid,
      oid ?? null,
      coin,
      side,
      px,
      sz,
      fee,
      str(f.liquidity) ?? null,
      exTime,
      num(f.rxTime) ?? rx,
      closedPnl,
    );
    this.saveBook(coin, b, rx);
    // An order already closed as cancelled that turns out to have fills ends filled / partially filled.
    const st = this.stmt('SELECT state FROM orders WHERE cloid = ?').get(cloid) as
      | { state: string }
      | undefined;
    if (st && (st.state === 'canceled' || st.state === PARTIALLY_FILLED)) {
      const fate = this.fateOf(cloid, st.state);
      if (fate !== st.state) this.stmt('UPDATE orders SET state = ? WHERE cloid = ?').run(fate, cloid);
    }
    return { ...f, cloid, coin, position: b.position, closedPnl };
  }

  /** One funding payment; undefined for a duplicate (same coin and time). */
  private recordFunding(d: Rec, ex: number | null, rx: number): Rec | undefined {
    const coin = str(d.coin) ?? (this.defaultCoin || undefined);
    const time = num(d.time) ?? ex ?? undefined;
    const usdc = num(d.usdc);
    if (!coin || time === undefined || usdc === undefined) return undefined;
    const szi = num(d.szi) ?? 0;
    const rate = num(d.fundingRate) ?? 0;
    const r = this.insFunding.run(
      coin,
      time,
      usdc,
      szi,
      rate,
      num(d.px) ?? null,
      str(d.source) ?? 'venue',
      rx,
    );
    if (r.changes === 0) return undefined;
    const b = this.book(coin);
    b.cash += usdc;
    b.funding += usdc;
    this.saveBook(coin, b, rx);
    return { ...d, coin, time };
  }

  /**
   * An explicit adjustment of a coin's position to `position` (what the venue reports when fills cannot
   * explain the difference), booked at `px` (else the venue's `entryPx`). Undefined when nothing differs.
   */
  private recordAdjustment(d: Rec, rx: number): Rec | undefined {
    const coin = str(d.coin) ?? (this.defaultCoin || undefined);
    const position = num(d.position);
    if (!coin || position === undefined) return undefined;
    const b = this.book(coin);
    const from = b.position;
    if (Math.abs(from - position) < 1e-12) return undefined;
    applyAdjustment(b, position, num(d.px) ?? Number.NaN, num(d.entryPx) ?? Number.NaN);
    this.saveBook(coin, b, rx);
    return { ...d, coin, from, delta: b.position - from };
  }

  /** Whether a fill is already journalled: the same venue trade id for the same order (cloid or oid). */
  hasFill(tid: number, cloid: string, oid?: number): boolean {
    this.flush();
    return this.findFill.get(tid, cloid, oid ?? null) !== undefined;
  }

  /** Exchange time of the newest journalled fill (of one coin), undefined when there is none. */
  lastFillTime(coin?: string): number | undefined {
    this.flush();
    const r = (
      coin === undefined
        ? this.stmt('SELECT MAX(ex_time) AS t FROM fills').get()
        : this.stmt('SELECT MAX(ex_time) AS t FROM fills WHERE coin = ?').get(coin)
    ) as { t: number | null };
    return r.t ?? undefined;
  }

  /** Time of the newest journalled funding event (of one coin), undefined when there is none. */
  lastFundingTime(coin?: string): number | undefined {
    this.flush();
    const r = (
      coin === undefined
        ? this.stmt('SELECT MAX(time) AS t FROM funding').get()
        : this.stmt('SELECT MAX(time) AS t FROM funding WHERE coin = ?').get(coin)
    ) as { t: number | null };
    return r.t ?? undefined;
  }

  /** Whether a funding event (coin, time) is already journalled. */
  hasFunding(coin: string, time: number): boolean {
    this.flush();
    return this.stmt('SELECT 1 FROM funding WHERE coin = ? AND time = ?').get(coin, time) !== undefined;
  }

  position(coin: string): number {
    this.flush();
    return this.book(coin).position;
  }

  /** The coin's book: position, average entry, cash, fees, realised P&L, funding, fills. */
  positionBook(coin: string): PositionBook {
    this.flush();
    return this.book(coin);
  }

  /** The last session-start reconciliation marker's data (exchange time it reconciled up to). */
  lastReconciliation(): Rec | undefined {
    this.flush();
    const r = this.stmt(
      'SELECT data FROM events WHERE type = \'session\' AND data LIKE \'%"event":"reconciled"%\' ORDER BY id DESC LIMIT 1',
    ).get() as { data: string } | undefined;
    return r ? (JSON.parse(r.data) as Rec) : undefined;
  }

  openOrders(coin?: string): JournalOrderRow[] {
    this.flush();
    const rows = (
      coin === undefined
        ? this.stmt(`SELECT * FROM orders WHERE state IN ${OPEN_STATES} ORDER BY created_rx`).all()
        : this.stmt(
            `SELECT * FROM orders WHERE state IN ${OPEN_STATES} AND coin = ? ORDER BY created_rx`,
          ).all(coin)
    ) as Rec[];
    return rows.map(orderRow);
  }

  /** One order by cloid. */
  order(cloid: string): JournalOrderRow | undefined {
    this.flush();
    const r = this.stmt('SELECT * FROM orders WHERE cloid = ?').get(cloid) as Rec | undefined;
    return r ? orderRow(r) : undefined;
  }

  fills(coin?: string): Rec[] {
    this.flush();
    return (
      coin === undefined
        ? this.stmt('SELECT * FROM fills ORDER BY rowid').all()
        : this.stmt('SELECT * FROM fills WHERE coin = ? ORDER BY rowid').all(coin)
    ) as Rec[];
  }

  fundings(coin?: string): Rec[] {
    this.flush();
    return (
      coin === undefined
        ? this.stmt('SELECT * FROM funding ORDER BY time').all()
        : this.stmt('SELECT * FROM funding WHERE coin = ? ORDER BY time').all(coin)
    ) as Rec[];
  }

  /** Recompute the positions from the fills, funding and adjustments (a consistency check; tests). */
  rebuildPositions(): void {
    this.flush();
    this.transaction(() => rebuildPositions(this.db));
  }

  /** The newest `state` row of each coin among the most recent ones (status rows come every few seconds). */
  private lastStatesByCoin(scan = 5000): { coin: string; rxTime: number; data: unknown }[] {
    const found = new Map<string, { coin: string; rxTime: number; data: unknown }>();
    for (const r of this.stmt(
      "SELECT rx_time, data FROM events WHERE type = 'state' ORDER BY id DESC LIMIT ?",
    ).iterate(scan) as Iterable<{ rx_time: number; data: string }>) {
      const d = JSON.parse(r.data) as Rec;
      const coin = typeof d.coin === 'string' ? d.coin : undefined;
      if (coin && !found.has(coin) && typeof d.netPnl === 'number')
        found.set(coin, { coin, rxTime: r.rx_time, data: d });
    }
    return [...found.values()].sort((a, b) => (a.coin < b.coin ? -1 : a.coin > b.coin ? 1 : 0));
  }

  private lastOf(type: string): { rxTime: number; exTime: number | null; data: unknown } | null {
    const r = this.stmt(
      'SELECT id, ex_time, rx_time, data FROM events WHERE type = ? ORDER BY id DESC LIMIT 1',
    ).get(type) as Rec | undefined;
    if (!r) return null;
    return {
      rxTime: r.rx_time as number,
      exTime: (r.ex_time as number | null) ?? null,
      data: this.readData(type, r.id as number, r.data as string),
    };
  }

  /**
   * The last start or stop of a session (a `reconciled` row follows each start: it says what was recovered,
   * not whether the trader runs).
   */
  private lastSessionEvent(): { rxTime: number; exTime: number | null; data: unknown } | null {
    const rows = this.stmt(
      "SELECT id, ex_time, rx_time, data FROM events WHERE type = 'session' ORDER BY id DESC LIMIT 16",
    ).all() as Rec[];
    for (const r of rows) {
      const data = this.readData('session', r.id as number, r.data as string) as { event?: unknown } | null;
      if (data?.event === 'reconciled') continue;
      return { rxTime: r.rx_time as number, exTime: (r.ex_time as number | null) ?? null, data };
    }
    return this.lastOf('session');
  }

  /** A row's data as written by the caller (parameter deltas expanded from their keyframe). */
  private readData(type: string, id: number, text: string): unknown {
    const data = JSON.parse(text) as unknown;
    if (type !== 'params') return data;
    if (!isDelta(data)) return strip(data);
    const chainId = chainOf(data);
    const chain: unknown[] = [];
    for (const r of this.stmt(
      "SELECT data FROM events WHERE type = 'params' AND id <= ? ORDER BY id DESC LIMIT 256",
    ).iterate(id) as Iterable<{ data: string }>) {
      const d = JSON.parse(r.data) as unknown;
      if (chainOf(d) !== chainId || (d as Rec | null)?.event !== undefined) continue;
      chain.unshift(d);
      if (!isDelta(d)) break;
    }
    return expandParams(chain);
  }

  /** Journal file + WAL on disk (bytes). */
  sizeBytes(): number {
    if (this.path === ':memory:') return 0;
    let n = 0;
    for (const f of [this.path, `${this.path}-wal`]) {
      try {
        n += statSync(f).size;
      } catch {
        // not there
      }
    }
    return n;
  }

  status(): JournalStatus {
    this.flush();
    const positions = (this.stmt('SELECT * FROM positions ORDER BY coin').all() as Rec[]).map((r) => ({
      coin: r.coin as string,
      position: r.position as number,
      avgEntry: (r.avg_entry as number | null) ?? null,
      cash: r.cash as number,
      fees: r.fees as number,
      realised: (r.realised as number | null) ?? 0,
      funding: (r.funding as number | null) ?? 0,
      fills: r.fills as number,
      updatedRx: r.updated_rx as number,
    }));
    const counts: Record<string, number> = {};
    for (const r of this.stmt('SELECT type, COUNT(*) AS n FROM events GROUP BY type').all() as Rec[]) {
      counts[r.type as string] = r.n as number;
    }
    return {
      path: this.path,
      lastSession: this.lastSessionEvent(),
      positions,
      openOrders: this.openOrders(),
      lastParams: this.lastOf('params'),
      lastRisk: this.lastOf('risk'),
      lastState: this.lastOf('state'),
      lastStates: this.lastStatesByCoin(),
      lastAdjustment: this.lastOf('adjustment'),
      counts,
      sizeBytes: this.sizeBytes(),
    };
  }

  history(opts: { limit?: number; type?: string } = {}): JournalEventRow[] {
    this.flush();
    const limit = opts.limit ?? 50;
    const rows = (
      opts.type === undefined
        ? this.stmt('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)
        : this.stmt('SELECT * FROM events WHERE type = ? ORDER BY id DESC LIMIT ?').all(opts.type, limit)
    ) as Rec[];
    return rows.reverse().map((r) => ({
      id: r.id as number,
      type: r.type as string,
      exTime: (r.ex_time as number | null) ?? null,
      rxTime: r.rx_time as number,
      data: this.readData(r.type as string, r.id as number, r.data as string),
    }));
  }

  /** Every events row, oldest first, as stored (tests compare journals row for row). */
  rawEvents(): { id: number; type: string; exTime: number | null; rxTime: number; data: string }[] {
    this.flush();
    return (this.stmt('SELECT * FROM events ORDER BY id').all() as Rec[]).map((r) => ({
      id: r.id as number,
      type: r.type as string,
      exTime: (r.ex_time as number | null) ?? null,
      rxTime: r.rx_time as number,
      data: r.data as string,
    }));
  }

  /**
   * Set an order's final state without an event row (e.g. 'filled': its fills are the events), written with
   * this turn's entries.
   */
  markOrder(cloid: string, state: string, rxTime: number): void {
    if (this.closed) return;
    this.enqueue({ mark: true, cloid, state, rxTime });
  }

  /**
   * Close every order still open in the journal (after a confirmed cancel-all on the exchange, or a paper stop):
   * from its journalled fills it ends `filled`, `partially filled` or `canceled` with `reason` (a text, or one
   * per cloid). Returns how many were closed.
   */
  closeOpenOrders(rxTime: number, reason: string | ((cloid: string) => string)): number {
    this.flush();
    const open = this.stmt(`SELECT cloid FROM orders WHERE state IN ${OPEN_STATES}`).all() as {
      cloid: string;
    }[];
    if (open.length === 0) return 0;
    const upd = this.stmt('UPDATE orders SET state = ?, reason = ?, updated_rx = ? WHERE cloid = ?');
    this.transaction(() => {
      for (const { cloid } of open) {
        // The reason says what happened to the order: a cancel only where nothing of it filled.
        const fate = this.fateOf(cloid, 'canceled');
        const cancelled = typeof reason === 'string' ? reason : reason(cloid);
        const why =
          fate === 'filled'
            ? 'filled (see its fills)'
            : fate === PARTIALLY_FILLED
              ? `partially filled; the rest ${cancelled}`
              : cancelled;
        upd.run(fate, why, rxTime, cloid);
      }
    });
    return open.length;
  }

  /** Delete housekeeping rows older than `before` (see ./journal-prune.ts); never orders or fills. */
  prune(before: number, opts: { dryRun?: boolean; vacuum?: boolean } = {}): PruneResult {
    this.flush();
    return pruneJournal(this.db, before, opts);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.maintenance?.close();
    if (this.path !== ':memory:') {
      try {
        // A stopped journal is one file: everything checkpointed, the WAL truncated.
        this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      } catch {
        // busy (another reader): the WAL is checkpointed by the next writer
      }
    }
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

export function openJournal(path: string, opts: JournalOptions = {}): SqliteJournal {
  return new SqliteJournal(path, opts);
}

/** Open an existing journal (for `trade status` / `trade history` / `trade prune`); a clear error if there is none. */
export function openExistingJournal(path: string): SqliteJournal {
  if (path !== ':memory:' && !existsSync(path)) {
    throw new Error(`--journal: no journal at ${path} (run \`cjmm trade\` first, or pass --journal <path>)`);
  }
  return new SqliteJournal(path);
}
