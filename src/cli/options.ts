import { parseTimeArg } from '../marketdata/time.ts';
import { CliError } from './errors.ts';

/** A flag's whole-number value, at least `min`; anything else is a usage error naming the flag. */
export function intOption(flag: string, raw: string, min: number): number {
  const v = /^\s*[-+]?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < min)
    throw new CliError(`${flag} must be an integer ≥ ${min} (got ${raw})`);
  return v;
}

/** A `--from`/`--to` style time flag (date, date-time or ms) in ms, or undefined when not given. */
export function timeOption(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseTimeArg(raw, flag);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}
