/**
 * Latency models of the simulated venue (milliseconds):
 * - entry: from our send (local clock) to the order's arrival at the matching engine;
 * - cancel: the same for cancels;
 * - response: from the exchange's event (ack, reject, fill) to our receipt of the report.
 * Constant, or sampled (seeded, so reproducible) from a recorded profile.
 */
import { readFileSync } from 'node:fs';
import { Rng } from '../util/rng.ts';

export interface LatencyModel {
  entry(): number;
  cancel(): number;
  response(): number;
  /** Human-readable summary for reports. */
  describe(): string;
}

export class ConstantLatency implements LatencyModel {
  readonly entryMs: number;
  readonly cancelMs: number;
  readonly responseMs: number;
  constructor(entryMs: number, cancelMs = entryMs, responseMs = entryMs) {
    for (const [k, v] of [
      ['entry', entryMs],
      ['cancel', cancelMs],
      ['response', responseMs],
    ] as const) {
      if (!(v >= 0) || !Number.isFinite(v))
        throw new Error(`latency.${k} must be a finite number of ms ≥ 0; got ${v}`);
    }
    this.entryMs = entryMs;
    this.cancelMs = cancelMs;
    this.responseMs = responseMs;
  }
  entry(): number {
    return this.entryMs;
  }
  cancel(): number {
    return this.cancelMs;
  }
  response(): number {
    return this.responseMs;
  }
  describe(): string {
    return this.entryMs === this.cancelMs && this.entryMs === this.responseMs
      ? `constant ${this.entryMs} ms each way`
      : `constant entry ${this.entryMs} ms, cancel ${this.cancelMs} ms, response ${this.responseMs} ms`;
  }
}

export interface LatencyProfile {
  entry: number[];
  cancel?: number[];
  response?: number[];
}

/** Samples each latency independently (with replacement) from recorded values, with a seeded RNG. */
export class ProfileLatency implements LatencyModel {
  private readonly e: Float64Array;
  private readonly c: Float64Array;
  private readonly r: Float64Array;
  private readonly rng: Rng;
  private readonly label: string;
  constructor(profile: LatencyProfile, seed = 1, label = 'profile') {
    const arr = (name: string, xs: number[] | undefined, fallback: Float64Array | undefined) => {
      if (xs === undefined) {
        if (fallback) return fallback;
        throw new Error(`latency profile: '${name}' must be a non-empty array of ms`);
      }
      if (!Array.isArray(xs) || xs.length === 0)
        throw new Error(`latency profile: '${name}' must be a non-empty array of ms`);
      const out = new Float64Array(xs.length);
      xs.forEach((v, i) => {
        if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
          throw new Error(`latency profile: ${name}[${i}] must be a finite number of ms ≥ 0; got ${v}`);
        out[i] = v;
      });
      return out;
    };
    this.e = arr('entry', profile.entry, undefined);
    this.c = arr('cancel', profile.cancel, this.e);
    this.r = arr('response', profile.response, this.e);
    this.rng = new Rng(seed);
    this.label = label;
  }
  private pick(xs: Float64Array): number {
    return xs[this.rng.int(xs.length)];
  }
  entry(): number {
    return this.pick(this.e);
  }
  cancel(): number {
    return this.pick(this.c);
  }
  response(): number {
    return this.pick(this.r);
  }
  describe(): string {
    const med = (xs: Float64Array) => {
      const s = Float64Array.from(xs).sort();
      return s[Math.floor(s.length / 2)];
    };
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return `${this.label}: sampled, median entry ${r1(med(this.e))} ms, response ${r1(med(this.r))} ms (${this.e.length} samples)`;
  }
}

/** Parse a duration like '50ms', '0.05s', '500us', '50' (ms) into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m)?\s*$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'us':
    case 'µs':
      return v / 1000;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      return v;
  }
}

/**
 * Read a latency profile file: JSON `{ "entry": [ms...], "cancel"?: [...], "response"?: [...] }`, a JSON array
 * of ms (used for all three), or text with one number of ms per line ('#' comments allowed).
 */
export function readLatencyProfile(path: string): LatencyProfile {
  const text = readFileSync(path, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const json = JSON.parse(trimmed) as unknown;
    if (Array.isArray(json)) return { entry: json as number[] };
    return json as LatencyProfile;
  }
  const values: number[] = [];
  for (const [i, line] of trimmed.split(/\r?\n/).entries()) {
    const s = line.replace(/#.*/, '').trim();
    if (!s) continue;
    const v = Number(s);
    if (!Number.isFinite(v))
      throw new Error(`latency profile ${path}: line ${i + 1} is not a number of ms: '${s}'`);
    values.push(v);
  }
  return { entry: values };
}
