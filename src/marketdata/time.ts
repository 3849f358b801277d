/** Time arguments for the command line: ISO-8601 (UTC unless an offset is given) or epoch milliseconds. */

/**
 * Parse `2025-12-10T21:10:00Z`, `2025-12-10T21:10:00` (taken as UTC), `2025-12-10` or `1765401000000`
 * (epoch ms) into epoch ms. Throws a RangeError naming `field` and the accepted forms.
 */
export function parseTimeArg(value: string, field: string): number {
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const ms = Number(s);
    // Epoch seconds would land in 1970: refuse rather than silently misread.
    if (ms < 1e11)
      throw new RangeError(
        `${field}: ${value} looks like epoch seconds; give epoch milliseconds or ISO-8601`,
      );
    return ms;
  }
  const hasZone = /([zZ]|[+-]\d{2}:?\d{2})$/.test(s);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : hasZone ? s : `${s}Z`;
  const ms = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(ms)) {
    throw new RangeError(
      `${field}: cannot read "${value}" as a time; use ISO-8601 (e.g. 2025-12-10T21:10:00Z) or epoch milliseconds`,
    );
  }
  return ms;
}

/** Epoch ms → ISO-8601 UTC with milliseconds ('' for NaN). */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

/**
 * Timestamp text with more than millisecond precision (`2024-01-01T12:00:01.138942031`, UTC when no zone)
 * → epoch ms with the sub-millisecond digits kept as a fraction. NaN when unreadable.
 */
export function parseIsoNanos(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/.exec(s);
  if (!m) return Number.NaN;
  const base = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return base + frac;
}

/** `<ns since epoch>` text → epoch ms (fractional), exact to the microsecond despite ns exceeding 2^53. */
export function nsTextToMs(ns: string): number {
  if (!/^\d{10,20}$/.test(ns)) return Number.NaN;
  const cut = ns.length - 6;
  return Number(ns.slice(0, cut)) + Number(ns.slice(cut)) / 1e6;
}
