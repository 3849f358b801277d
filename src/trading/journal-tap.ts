/**
 * A tap on the journal: every entry recorded (and not refused as a duplicate fill) is also handed to a
 * listener — the service's event hook (src/rpc/session-port.ts). The listener runs on the quoting path, inside
 * `record`, so it must only queue.
 */
import type { JournalEntry, SqliteJournal } from './journal.ts';

export function tapJournal(
  journal: SqliteJournal,
  tap: ((e: JournalEntry) => void) | undefined,
): SqliteJournal {
  if (!tap) return journal;
  const record = journal.record.bind(journal);
  journal.record = (e: JournalEntry): boolean => {
    const written = record(e);
    if (written) tap(e);
    return written;
  };
  return journal;
}
