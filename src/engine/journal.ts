/**
 * The journal: every order, ack, reject, fill, cancel, modify, parameter change and risk event the engine
 * sees or causes. Live trading journals to SQLite (src/trading); backtests use the in-memory one below.
 */
export type JournalEntryType =
  | 'order'
  | 'ack'
  | 'reject'
  | 'fill'
  | 'cancel'
  | 'modify'
  | 'params'
  | 'risk'
  | 'state';

export interface JournalEntry {
  type: JournalEntryType;
  /** Exchange time when the entry comes from a venue report. */
  exTime?: number;
  /** Engine clock (receive side) at the time of the entry. */
  rxTime: number;
  data: Record<string, unknown>;
}

export interface Journal {
  record(entry: JournalEntry): void;
}

/** Keeps entries in memory (optionally only the last `maxEntries`) and counts every type. */
export class MemoryJournal implements Journal {
  readonly entries: JournalEntry[] = [];
  readonly counts: Record<JournalEntryType, number> = {
    order: 0,
    ack: 0,
    reject: 0,
    fill: 0,
    cancel: 0,
    modify: 0,
    params: 0,
    risk: 0,
    state: 0,
  };
  private readonly maxEntries: number;
  /** Entries dropped from the front once `maxEntries` was reached. */
  dropped = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    this.maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  }

  record(entry: JournalEntry): void {
    this.counts[entry.type]++;
    this.entries.push(entry);
    if (this.entries.length > this.maxEntries) {
      // Drop in chunks so a bounded journal does not shift the array on every entry.
      const n = Math.max(1, Math.floor(this.maxEntries / 4));
      this.entries.splice(0, n);
      this.dropped += n;
    }
  }

  ofType(type: JournalEntryType): JournalEntry[] {
    return this.entries.filter((e) => e.type === type);
  }
}
