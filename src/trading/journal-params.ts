/**
 * Compact parameter sets. A session journals the strategy's diagnostics each time it adopts a new parameter set
 * (every calibration, 15 s by default): ~0.5 kB of JSON, most of it 17-digit floats and fields that never change.
 * Stored instead: a keyframe (the whole set) every KEYFRAME_EVERY sets and at each session start, and in
 * between only the fields that changed (`"_delta": <chain>`), numbers at 7 significant digits — estimates with error
 * bars far wider than that. Readers (`trade status`, `trade history`) expand a delta from its keyframe, so what
 * they show is the full set.
 * Rows with an `event` field (e.g. the session's instrument) are standalone and stored as given.
 */

export const PARAMS_KEYFRAME_EVERY = 20;
export const DELTA_KEY = '_delta';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** 7 significant digits for non-integers. */
export function compactNumber(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(7));
}

function compactValue(v: unknown): unknown {
  if (typeof v === 'number') return compactNumber(v);
  if (Array.isArray(v)) return v.map(compactValue);
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = compactValue(x);
    return out;
  }
  return v;
}

const same = (a: unknown, b: unknown) =>
  a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/** Whether a stored params row is a delta (needs its keyframe to read). */
export function isDelta(stored: unknown): boolean {
  return isObj(stored) && typeof stored[DELTA_KEY] === 'number';
}

/** Whether a stored params row is a keyframe of a delta chain (a full set, not a standalone event row). */
export function isKeyframe(stored: unknown): boolean {
  return isObj(stored) && stored[DELTA_KEY] === undefined && stored.event === undefined;
}

/** The chain a stored params row belongs to (sets of one shape, i.e. one key set, form one chain). */
export function chainOf(stored: unknown): number | undefined {
  if (!isObj(stored)) return undefined;
  if (isDelta(stored)) return stored[DELTA_KEY] as number;
  return typeof stored[CHAIN_KEY] === 'number' ? (stored[CHAIN_KEY] as number) : 0;
}

const CHAIN_KEY = '_chain';

/**
 * Turns each parameter set into what is stored; one per journal connection. Sets of different shapes (e.g. the
 * strategy's own record and the session's diagnostics) alternate, so each shape is its own chain: a keyframe
 * (`_chain: n`, omitted for chain 0) and deltas against it (`_delta: n`). The first set of each chain after
 * opening is a keyframe.
 */
export class ParamsEncoder {
  private readonly chains = new Map<string, { id: number; prev: Obj; since: number }>();

  encode(data: unknown): unknown {
    if (!isObj(data) || data.event !== undefined) return data;
    const full = compactValue(data) as Obj;
    const shape = Object.keys(full).sort().join(',');
    const c = this.chains.get(shape);
    if (c === undefined || ++c.since >= PARAMS_KEYFRAME_EVERY) {
      const id = c?.id ?? this.chains.size;
      this.chains.set(shape, { id, prev: full, since: 0 });
      return id === 0 ? full : { [CHAIN_KEY]: id, ...full };
    }
    const delta: Obj = { [DELTA_KEY]: c.id };
    for (const [k, v] of Object.entries(full)) if (!same(c.prev[k], v)) delta[k] = v;
    c.prev = full;
    return delta;
  }
}

/**
 * The full set of the last row of `chain` (stored rows of the same chain, oldest first, starting at its
 * keyframe). A chain without its keyframe (pruned) yields the fields known, marked `_partial`.
 */
export function expandParams(chain: unknown[]): unknown {
  const lastRow = chain[chain.length - 1];
  if (!isDelta(lastRow)) return strip(lastRow);
  const out: Obj = {};
  let partial = true;
  for (const row of chain) {
    if (!isObj(row) || row.event !== undefined) continue;
    if (!isDelta(row)) {
      for (const k of Object.keys(out)) delete out[k];
      partial = false;
    }
    for (const [k, v] of Object.entries(row)) if (k !== DELTA_KEY && k !== CHAIN_KEY) out[k] = v;
  }
  if (partial) out._partial = true;
  return out;
}

/** A stored row as the caller wrote it (without the chain marker). */
export function strip(stored: unknown): unknown {
  if (!isObj(stored) || stored[CHAIN_KEY] === undefined) return stored;
  const { [CHAIN_KEY]: _c, ...rest } = stored;
  return rest;
}
