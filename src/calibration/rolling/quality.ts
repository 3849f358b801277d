/**
 * Data-quality bookkeeping: cumulative counters of what the calibrator skipped or found odd, the flags they
 * raise, and which flags are only warnings (the set is still 'ok') rather than serious.
 */

export interface DataCounters {
  outOfOrder: number;
  malformed: number;
  crossedQuotes: number;
  inGapSkipped: number;
  otherCoin: number;
  quotes: number;
  trades: number;
}

export function newCounters(): DataCounters {
  return {
    outOfOrder: 0,
    malformed: 0,
    crossedQuotes: 0,
    inGapSkipped: 0,
    otherCoin: 0,
    quotes: 0,
    trades: 0,
  };
}

/** Flags that do not make a set "not ok" by themselves. */
const WARNING_PREFIXES = [
  'out-of-order',
  'malformed-skipped',
  'crossed-quotes',
  'inside-touch-fills',
  'mos-without-quote',
  'depth-misfit',
  'other-coin-skipped',
  'events-in-gap-skipped',
];

export function seriousFlags(flags: string[]): string[] {
  return flags.filter((f) => !WARNING_PREFIXES.some((p) => f.startsWith(p)));
}

/** The data-quality flags the counters raise, in report order. */
export function dataQualityFlags(c: DataCounters, mosWithoutQuote: number): string[] {
  const flags: string[] = [];
  if (c.outOfOrder > 0) flags.push('out-of-order');
  if (c.malformed > 0) flags.push('malformed-skipped');
  if (c.crossedQuotes > 0) flags.push('crossed-quotes');
  if (mosWithoutQuote > 0) flags.push('mos-without-quote');
  if (c.otherCoin > 0) flags.push('other-coin-skipped');
  if (c.inGapSkipped > 0) flags.push('events-in-gap-skipped');
  return flags;
}
