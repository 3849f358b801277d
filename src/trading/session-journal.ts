/**
 * What a trading session journals besides the engine's own entries: venue confirmations the engine does not
 * journal (cancels confirmed by the venue, orders that finished filled), the strategy's parameter sets when it
 * adopts a new one, and the periodic state row. Shared by the session (src/trading/session.ts) and the journal
 * bench (bench/journal.bench.ts), so the bench measures exactly the rows a session writes.
 */
import type { Strategy, Venue } from '../engine/types.ts';
import type { SqliteJournal } from './journal.ts';

/**
 * The venue, wrapped to journal what the engine does not: cancel confirmations and filled orders.
 * `onSend` is called when the engine hands a place/modify to the venue (paper's "send" instant);
 * `afterReport` after the engine handled each report (invariant checks).
 */
export function journallingVenue(
  inner: Venue,
  journal: SqliteJournal,
  hooks: { onSend?: () => void; afterReport?: () => void } = {},
): Venue {
  const { onSend, afterReport } = hooks;
  return {
    name: inner.name,
    place: (x) => {
      onSend?.();
      inner.place(x);
    },
    modify: (x) => {
      onSend?.();
      inner.modify(x);
    },
    cancel: (x) => inner.cancel(x),
    cancelAll: (c) => inner.cancelAll(c),
    setReportListener: (l) =>
      inner.setReportListener((r) => {
        if (r.kind === 'order' && r.state === 'canceled') {
          // (The old half of an accepted modify, however the venue reports it, gets no row: the journal
          // recognises it.)
          journal.record({
            type: 'cancel',
            exTime: r.exTime,
            rxTime: r.rxTime,
            data: { cloid: r.cloid, oid: r.oid, state: 'canceled', reason: r.reason },
          });
        } else if (r.kind === 'order' && r.state === 'filled') {
          journal.markOrder(r.cloid, 'filled', r.rxTime);
        }
        l(r);
        afterReport?.();
      }),
  };
}

/**
 * Journals a parameter set whenever the strategy adopts a new one (a new calibration or parameter object);
 * call it on every engine timer turn.
 */
export function paramsJournaller(strategy: Strategy, journal: SqliteJournal, now: () => number): () => void {
  let lastKey = '';
  return () => {
    const d = strategy.diagnostics?.() as Record<string, unknown> | undefined;
    if (!d) return;
    const key = JSON.stringify([d.params ?? null, d.calibratedAt ?? null, d.source ?? null]);
    if (key === lastKey) return;
    lastKey = key;
    journal.record({ type: 'params', rxTime: now(), data: d });
  };
}
