/**
 * The search space: which strategy config keys are tuned and over which range.
 * `--space name=lo:hi[:int|:log]` (or `name=a,b` for a categorical, or a bare `name` for its default range),
 * a `--spaces-file` (JSON), or the strategy's default space (src/strategies/tunables.ts). Every error names
 * the parameter and lists the valid ones (the CLI exits 2 on it).
 * Samplers work in an "internal" coordinate per dimension: ln(value) for log ranges, the choice index for
 * categoricals, the value itself otherwise; integers own the cell [v − ½, v + ½].
 */
import type { StrategyName } from '../strategies/config.ts';
import { type Tunable, tunablesOf } from '../strategies/tunables.ts';

export type ParamValue = number | string;
export type Params = Record<string, ParamValue>;

export interface Dimension {
  name: string;
  type: 'float' | 'int' | 'categorical';
  /** Value-space bounds (categorical: 0 .. choices − 1). */
  low: number;
  high: number;
  log: boolean;
  /** Only whole numbers (int keys, or `:int` on a float key). */
  integer: boolean;
  /** Values rounded to this step with `decimals` decimals (order sizes). */
  step?: number;
  decimals?: number;
  choices?: string[];
}

/** A usage error in the space; the CLI prints it and exits 2. */
export class SpaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpaceError';
  }
}

/** What the instrument contributes to default ranges and rounding. */
export interface SpaceInstrument {
  tick: number;
  lotSize: number;
  szDecimals: number;
}

function describeTunable(t: Tunable, inst?: SpaceInstrument): string {
  if (t.type === 'categorical') return `${t.key}=${t.choices?.join(',')}`;
  const s = t.scale === 'tick' ? (inst?.tick ?? 1) : t.scale === 'lot' ? (inst?.lotSize ?? 1) : 1;
  const unit = inst || !t.scale ? '' : ` ${t.scale}s`;
  const flags = `${t.type === 'int' || t.intRange ? ':int' : ''}${t.log ? ':log' : ''}`;
  return `${t.key}=${fmt((t.low ?? 0) * s)}:${fmt((t.high ?? 0) * s)}${flags}${unit}`;
}

function fmt(x: number): string {
  return Number(x.toPrecision(10)).toString();
}

/** "valid parameters of fixed: halfSpreadTicks=0:20:int, …" for error messages and --help. */
export function validParameters(strategy: StrategyName, inst?: SpaceInstrument): string {
  return `valid parameters of ${strategy} (name=default range): ${tunablesOf(strategy)
    .map((t) => describeTunable(t, inst))
    .join(', ')}`;
}

function findTunable(strategy: StrategyName, name: string, inst?: SpaceInstrument): Tunable {
  const t = tunablesOf(strategy).find((x) => x.key === name);
  if (!t)
    throw new SpaceError(
      `--space ${name}: not a tunable parameter of ${strategy}; ${validParameters(strategy, inst)}`,
    );
  return t;
}

const NUMBER_RE = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

function numberOf(raw: string, what: string, strategy: StrategyName, inst?: SpaceInstrument): number {
  if (!NUMBER_RE.test(raw))
    throw new SpaceError(`${what}: '${raw}' is not a number; ${validParameters(strategy, inst)}`);
  return Number(raw);
}

/** Bounds check against the domain the config accepts. */
function checkDomain(
  t: Tunable,
  lo: number,
  hi: number,
  label: string,
  strategy: StrategyName,
  inst?: SpaceInstrument,
) {
  const tail = `; ${validParameters(strategy, inst)}`;
  if (t.min !== undefined && (t.minExclusive ? !(lo > t.min) : !(lo >= t.min)))
    throw new SpaceError(
      `${label}: ${t.key} must be ${t.minExclusive ? '>' : '≥'} ${t.min} (${t.doc})${tail}`,
    );
  if (t.max !== undefined && !(hi <= t.max))
    throw new SpaceError(`${label}: ${t.key} must be ≤ ${t.max} (${t.doc})${tail}`);
}

interface RangeSpec {
  low?: number;
  high?: number;
  int?: boolean;
  log?: boolean;
  choices?: string[];
}

/** Turns one parameter's spec into a dimension (validated). `label` is how errors name it. */
function dimensionOf(
  strategy: StrategyName,
  name: string,
  spec: RangeSpec | undefined,
  label: string,
  inst?: SpaceInstrument,
): Dimension {
  const t = findTunable(strategy, name, inst);
  const tail = `; ${validParameters(strategy, inst)}`;
  if (t.type === 'categorical') {
    if (spec && (spec.low !== undefined || spec.high !== undefined || spec.int || spec.log))
      throw new SpaceError(
        `${label}: ${name} is categorical (${t.choices?.join(', ')}); give a list such as ${name}=${t.choices?.join(',')}${tail}`,
      );
    const choices = spec?.choices ?? [...(t.choices ?? [])];
    if (choices.length === 0) throw new SpaceError(`${label}: empty list of choices for ${name}${tail}`);
    for (const c of choices)
      if (!t.choices?.includes(c))
        throw new SpaceError(
          `${label}: '${c}' is not a value of ${name} (one of ${t.choices?.join(', ')})${tail}`,
        );
    if (new Set(choices).size !== choices.length)
      throw new SpaceError(`${label}: ${name} lists a choice twice${tail}`);
    return {
      name,
      type: 'categorical',
      low: 0,
      high: choices.length - 1,
      log: false,
      integer: true,
      choices,
    };
  }
  if (spec?.choices)
    throw new SpaceError(
      `${label}: ${name} is numeric (${t.doc}); give a range such as ${describeTunable(t, inst)}${tail}`,
    );
  const scale = t.scale === 'tick' ? (inst?.tick ?? 1) : t.scale === 'lot' ? (inst?.lotSize ?? 1) : 1;
  const explicit = spec?.low !== undefined;
  const low = explicit ? (spec?.low as number) : (t.low as number) * scale;
  const high = explicit ? (spec?.high as number) : (t.high as number) * scale;
  const integer = t.type === 'int' || (explicit ? spec?.int === true : t.intRange === true);
  const log = explicit ? spec?.log === true : t.log === true;
  if (t.type === 'int' && explicit && (!Number.isInteger(low) || !Number.isInteger(high)))
    throw new SpaceError(
      `${label}: ${name} is an integer parameter (${t.doc}); bounds must be whole numbers (got ${low}:${high})${tail}`,
    );
  if (low > high)
    throw new SpaceError(`${label}: the range of ${name} is inverted (low ${low} > high ${high})${tail}`);
  if (low === high)
    throw new SpaceError(
      `${label}: the range of ${name} is empty (low = high = ${low}); set it in --config instead${tail}`,
    );
  if (integer && Math.ceil(low) > Math.floor(high))
    throw new SpaceError(`${label}: no whole number lies in ${low}:${high} for ${name}${tail}`);
  if (log && !(low > 0))
    throw new SpaceError(`${label}: a :log range of ${name} needs low > 0 (got ${low})${tail}`);
  checkDomain(t, low, high, label, strategy, inst);
  const dim: Dimension = {
    name,
    type: t.type,
    low: integer ? Math.ceil(low) : low,
    high: integer ? Math.floor(high) : high,
    log,
    integer,
  };
  if (t.sizeStep && inst) {
    dim.step = 10 ** -inst.szDecimals;
    dim.decimals = inst.szDecimals;
    if (!(roundStep(dim, high) >= dim.step))
      throw new SpaceError(
        `${label}: ${name} range ${low}:${high} holds no size ≥ the size step ${dim.step}${tail}`,
      );
  }
  return dim;
}

/** Parses the text after `name=` of a `--space`: lo:hi[:int|:log]…, a,b,c, or nothing (default range). */
function parseSpecText(
  text: string,
  label: string,
  strategy: StrategyName,
  inst?: SpaceInstrument,
): RangeSpec | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (!s.includes(':')) return { choices: s.split(/[,|]/).map((x) => x.trim()) };
  const parts = s.split(':').map((x) => x.trim());
  if (parts.length < 2)
    throw new SpaceError(`${label}: expected low:high[:int|:log]; ${validParameters(strategy, inst)}`);
  const spec: RangeSpec = {
    low: numberOf(parts[0], label, strategy, inst),
    high: numberOf(parts[1], label, strategy, inst),
  };
  for (const f of parts.slice(2)) {
    if (f === 'int') spec.int = true;
    else if (f === 'log') spec.log = true;
    else
      throw new SpaceError(
        `${label}: unknown range flag ':${f}' (use :int or :log); ${validParameters(strategy, inst)}`,
      );
  }
  return spec;
}

/** One `--space` argument. */
export function parseSpaceArg(arg: string, strategy: StrategyName, inst?: SpaceInstrument): Dimension {
  const eq = arg.indexOf('=');
  const name = (eq < 0 ? arg : arg.slice(0, eq)).trim();
  const label = `--space ${arg}`;
  if (name === '')
    throw new SpaceError(`${label}: missing the parameter name; ${validParameters(strategy, inst)}`);
  findTunable(strategy, name, inst);
  const spec = eq < 0 ? undefined : parseSpecText(arg.slice(eq + 1), label, strategy, inst);
  return dimensionOf(strategy, name, spec, label, inst);
}

/**
 * A spaces file: a JSON object { name: spec } where spec is "lo:hi[:int|:log]", "a,b", { low, high, int?, log? },
 * { choices: [...] }, an array of choices, or true / null (the default range); or an array of "name=spec"
 * strings as on the command line.
 */
export function parseSpacesJson(
  json: unknown,
  file: string,
  strategy: StrategyName,
  inst?: SpaceInstrument,
): Dimension[] {
  if (Array.isArray(json)) {
    return json.map((x, i) => {
      if (typeof x !== 'string')
        throw new SpaceError(`--spaces-file ${file}: item ${i} must be a string like "phi=1e-6:1e-1:log"`);
      return parseSpaceArg(x, strategy, inst);
    });
  }
  if (typeof json !== 'object' || json === null)
    throw new SpaceError(`--spaces-file ${file}: must be a JSON object { "name": "low:high[:int|:log]", … }`);
  const out: Dimension[] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    const label = `--spaces-file ${file}: ${name}`;
    findTunable(strategy, name, inst);
    let spec: RangeSpec | undefined;
    if (v === true || v === null) spec = undefined;
    else if (typeof v === 'string') spec = parseSpecText(v, label, strategy, inst);
    else if (Array.isArray(v)) spec = { choices: v.map(String) };
    else if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const unknown = Object.keys(o).filter((k) => !['low', 'high', 'int', 'log', 'choices'].includes(k));
      if (unknown.length > 0)
        throw new SpaceError(
          `${label}: unknown field(s) ${unknown.join(', ')} (use low, high, int, log, choices)`,
        );
      if (o.choices !== undefined) {
        if (!Array.isArray(o.choices)) throw new SpaceError(`${label}: choices must be an array`);
        spec = { choices: o.choices.map(String) };
      } else {
        if (typeof o.low !== 'number' || typeof o.high !== 'number')
          throw new SpaceError(`${label}: low and high must be numbers; ${validParameters(strategy, inst)}`);
        spec = { low: o.low, high: o.high, int: o.int === true, log: o.log === true };
      }
    } else
      throw new SpaceError(`${label}: cannot read ${JSON.stringify(v)}; ${validParameters(strategy, inst)}`);
    out.push(dimensionOf(strategy, name, spec, label, inst));
  }
  return out;
}

/**
 * The space of a run: the spaces file, then `--space` arguments (which override the file's entry of the same
 * name), else the strategy's default space. Ordered as the strategy declares its tunables.
 */
export function buildSpace(
  strategy: StrategyName,
  args: string[],
  fileDims: Dimension[] = [],
  inst?: SpaceInstrument,
): Dimension[] {
  const byName = new Map<string, Dimension>();
  for (const d of fileDims) byName.set(d.name, d);
  const seen = new Set<string>();
  for (const a of args) {
    const d = parseSpaceArg(a, strategy, inst);
    if (seen.has(d.name)) throw new SpaceError(`--space ${d.name} is given twice`);
    seen.add(d.name);
    byName.set(d.name, d);
  }
  if (byName.size === 0)
    for (const t of tunablesOf(strategy))
      if (t.inDefaultSpace) byName.set(t.key, dimensionOf(strategy, t.key, undefined, `default space`, inst));
  const order = tunablesOf(strategy).map((t) => t.key);
  const dims = [...byName.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  for (const d of dims) {
    const t = findTunable(strategy, d.name, inst);
    for (const x of t.excludes ?? [])
      if (byName.has(x))
        throw new SpaceError(`--space ${d.name} and ${x} cannot both be tuned: the config takes one of them`);
  }
  return dims;
}

function roundStep(d: Dimension, v: number): number {
  if (d.step === undefined) return v;
  return Number((Math.round(v / d.step) * d.step).toFixed(d.decimals ?? 8));
}

/** Internal coordinate bounds (integers own the cell [v − ½, v + ½]). */
export function internalBounds(d: Dimension): [number, number] {
  if (d.type === 'categorical') return [0, d.high];
  const lo = d.integer ? d.low - 0.5 : d.low;
  const hi = d.integer ? d.high + 0.5 : d.high;
  return d.log ? [Math.log(Math.max(lo, d.low / 2, Number.MIN_VALUE)), Math.log(hi)] : [lo, hi];
}

/** Value → internal coordinate. */
export function toInternal(d: Dimension, v: ParamValue): number {
  if (d.type === 'categorical') return Math.max(0, d.choices?.indexOf(String(v)) ?? 0);
  const x = Number(v);
  return d.log ? Math.log(x) : x;
}

/** Internal coordinate → value (rounded to integers / the size step, clamped to the range). */
export function fromInternal(d: Dimension, u: number): ParamValue {
  if (d.type === 'categorical') {
    const i = Math.min(d.high, Math.max(0, Math.round(u)));
    return (d.choices as string[])[i];
  }
  let v = d.log ? Math.exp(u) : u;
  if (d.integer) v = Math.round(v);
  v = Math.min(d.high, Math.max(d.low, v));
  if (d.step !== undefined) v = Math.max(d.step, roundStep(d, v));
  return v;
}

/** The cell of an integer value in internal coordinates (for discrete probabilities). */
export function internalCell(d: Dimension, v: ParamValue): [number, number] {
  const x = Number(v);
  const lo = x - 0.5;
  const hi = x + 0.5;
  return d.log ? [Math.log(Math.max(lo, d.low / 2)), Math.log(hi)] : [lo, hi];
}

/** "phi=1e-6:0.1:log" — how a dimension is shown (and can be given back to --space). */
export function describeDimension(d: Dimension): string {
  if (d.type === 'categorical') return `${d.name}=${d.choices?.join(',')}`;
  const flags = `${d.integer ? ':int' : ''}${d.log ? ':log' : ''}`;
  return `${d.name}=${fmt(d.low)}:${fmt(d.high)}${flags}`;
}

/**
 * The strategy config of one epoch: the base (the --config file's strategy fields) with the parameters set;
 * keys a tuned parameter excludes (halfSpreadBps when halfSpreadTicks is tuned) are dropped.
 */
export function applyParams(
  strategy: StrategyName,
  base: Record<string, unknown> | undefined,
  params: Params,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(base ?? {}), strategy };
  for (const [k, v] of Object.entries(params)) {
    const t = tunablesOf(strategy).find((x) => x.key === k);
    for (const x of t?.excludes ?? []) delete out[x];
    // A dotted key sets a nested field (inventoryTarget.stdLots), keeping the object's other fields.
    const dot = k.indexOf('.');
    if (dot < 0) out[k] = v;
    else {
      const head = k.slice(0, dot);
      const inner = out[head];
      out[head] = {
        ...(inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}),
        [k.slice(dot + 1)]: v,
      };
    }
  }
  return out;
}
