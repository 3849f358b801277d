/**
 * Moving calibration results (src/calibration/types.ts CalibrationResult, ≈ 400 numbers in ≈ 60 nested objects
 * and arrays) from the calibration thread to the replay's thread cheaply and exactly. A structured clone costs
 * ≈ 35 µs per result, JSON ≈ 16 µs and is not exact (−0, NaN, ±Infinity); here a result travels as its numbers
 * in a Float64Array plus the id of its shape, and is rebuilt by a function compiled once per shape.
 *
 * A shape is the result with its numbers taken out: object keys in order, the kind of every leaf (number,
 * string, boolean, null, undefined) and arrays either uniform (every element of one shape: the length travels
 * with the numbers, so a histogram of another length is the same shape) or tuples. Strings travel as ids into
 * a table. New shapes and strings are announced to the decoder (`Defs`) before the first value that uses
 * them. Anything else (a class instance, a typed array, a hole, a bigint, a `__proto__` key) is not encoded:
 * `encode` returns false and the caller sends a structured clone.
 */

/** A shape: leaf kinds, `{ o }` an object (keys in order), `{ a }` a uniform array, `{ t }` a tuple. */
export type Shape = 'n' | 's' | 'b' | 'z' | 'u' | { o: [string, Shape][] } | { a: Shape } | { t: Shape[] };

/** New shapes and strings, in the order the encoder made them (ids are their positions). */
export interface Defs {
  shapes: Shape[];
  strings: string[];
}

/** The encoder's side: numbers of the last value in `nums[0..length)`, its shape id in `shape`. */
export class ShapeEncoder {
  nums = new Float64Array(1024);
  length = 0;
  shape = -1;
  private readonly shapeIds = new Map<string, number>();
  private readonly stringIds = new Map<string, number>();
  private pending: Defs = { shapes: [], strings: [] };

  /** Shapes by id, and the ids of the last few used (most recent first): tried before a full walk. */
  private readonly shapes: Shape[] = [];
  private readonly recent: number[] = [];

  /** Encodes `v`; false when it holds something the codec does not carry (send a structured clone). */
  encode(v: unknown): boolean {
    // Results come in a handful of shapes: matching one of the recent ones costs no signature string.
    for (let k = 0; k < this.recent.length; k++) {
      const id = this.recent[k];
      this.length = 0;
      if (this.follow(v, this.shapes[id])) {
        this.use(id);
        return true;
      }
    }
    this.length = 0;
    const sig = this.walk(v);
    if (sig === undefined) return false;
    let id = this.shapeIds.get(sig);
    if (id === undefined) {
      id = this.shapeIds.size;
      this.shapeIds.set(sig, id);
      const shape = shapeOf(v);
      this.shapes.push(shape);
      this.pending.shapes.push(shape);
    }
    this.use(id);
    return true;
  }

  private use(id: number): void {
    this.shape = id;
    const k = this.recent.indexOf(id);
    if (k === 0) return;
    if (k > 0) this.recent.splice(k, 1);
    else if (this.recent.length === 4) this.recent.pop();
    this.recent.unshift(id);
  }

  /** Pushes the numbers of `v` if it has shape `s` (true), else false (the numbers pushed are then junk). */
  private follow(v: unknown, s: Shape): boolean {
    if (s === 'n') {
      if (typeof v !== 'number') return false;
      this.push(v);
      return true;
    }
    if (s === 's') {
      if (typeof v !== 'string') return false;
      this.push(this.stringId(v));
      return true;
    }
    if (s === 'b') {
      if (typeof v !== 'boolean') return false;
      this.push(v ? 1 : 0);
      return true;
    }
    if (s === 'z') return v === null;
    if (s === 'u') return v === undefined;
    if (typeof v !== 'object' || v === null) return false;
    const proto = Object.getPrototypeOf(v);
    if ('o' in s) {
      if (proto !== Object.prototype) return false;
      const o = s.o;
      let i = 0;
      const rec = v as Record<string, unknown>;
      for (const key in rec) {
        if (i >= o.length || o[i][0] !== key || !this.follow(rec[key], o[i][1])) return false;
        i++;
      }
      return i === o.length;
    }
    if (proto !== Array.prototype) return false;
    const a = v as unknown[];
    if ('t' in s && a.length !== s.t.length) return false;
    this.push(a.length);
    for (let k = 0; k < a.length; k++) {
      if (!(k in a)) return false;
      if (!this.follow(a[k], 'a' in s ? s.a : (s as { t: Shape[] }).t[k])) return false;
    }
    return true;
  }

  private stringId(v: string): number {
    let id = this.stringIds.get(v);
    if (id === undefined) {
      id = this.stringIds.size;
      this.stringIds.set(v, id);
      this.pending.strings.push(v);
    }
    return id;
  }

  /** Shapes and strings made since the last call (announce them before the value that uses them). */
  takeDefs(): Defs | undefined {
    const d = this.pending;
    if (d.shapes.length === 0 && d.strings.length === 0) return undefined;
    this.pending = { shapes: [], strings: [] };
    return d;
  }

  private push(x: number): void {
    if (this.length === this.nums.length) {
      const bigger = new Float64Array(this.nums.length * 2);
      bigger.set(this.nums);
      this.nums = bigger;
    }
    this.nums[this.length++] = x;
  }

  /** Pushes the numbers of `v` and returns its shape's signature (undefined: not encodable). */
  private walk(v: unknown): string | undefined {
    switch (typeof v) {
      case 'number':
        this.push(v);
        return 'n';
      case 'boolean':
        this.push(v ? 1 : 0);
        return 'b';
      case 'undefined':
        return 'u';
      case 'string':
        this.push(this.stringId(v));
        return 's';
      case 'object': {
        if (v === null) return 'z';
        const proto = Object.getPrototypeOf(v);
        if (proto === Array.prototype) {
          const a = v as unknown[];
          this.push(a.length);
          let first: string | undefined;
          let uniform = true;
          const parts: string[] = [];
          for (let k = 0; k < a.length; k++) {
            if (!(k in a)) return undefined;
            const s = this.walk(a[k]);
            if (s === undefined) return undefined;
            if (k === 0) first = s;
            else if (s !== first) uniform = false;
            parts.push(s);
          }
          return uniform ? `[*${first ?? ''}]` : `[${parts.join(',')}]`;
        }
        if (proto !== Object.prototype) return undefined;
        let sig = '{';
        for (const key of Object.keys(v)) {
          if (key === '__proto__') return undefined;
          const s = this.walk((v as Record<string, unknown>)[key]);
          if (s === undefined) return undefined;
          sig += `${JSON.stringify(key)}:${s},`;
        }
        return `${sig}}`;
      }
      default:
        return undefined;
    }
  }
}

/** The shape of an encodable value (the same judgement as ShapeEncoder.walk). */
function shapeOf(v: unknown): Shape {
  switch (typeof v) {
    case 'number':
      return 'n';
    case 'boolean':
      return 'b';
    case 'undefined':
      return 'u';
    case 'string':
      return 's';
  }
  if (v === null) return 'z';
  if (Array.isArray(v)) {
    const parts = v.map(shapeOf);
    const sigs = parts.map((p) => JSON.stringify(p));
    return sigs.every((s) => s === sigs[0]) && parts.length > 0 ? { a: parts[0] } : { t: parts };
  }
  return { o: Object.keys(v as object).map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]) };
}

type Rebuild = (nums: Float64Array, at: number, strings: readonly string[]) => unknown;

/**
 * The decoder's side: shapes compiled into functions that rebuild a value as one object literal per object
 * (the fastest way V8 makes an object; keys and strings from our own encoder, written as JSON literals).
 */
export class ShapeDecoder {
  private readonly rebuild: Rebuild[] = [];
  private readonly strings: string[] = [];

  get shapes(): number {
    return this.rebuild.length;
  }

  define(d: Defs): void {
    for (const s of d.strings) this.strings.push(s);
    for (const s of d.shapes) this.rebuild.push(compile(s));
  }

  /** The value of shape `shape` whose numbers start at nums[at]. */
  decode(shape: number, nums: Float64Array, at = 0): unknown {
    const f = this.rebuild[shape];
    if (f === undefined) throw new Error(`calibration codec: unknown shape ${shape}`);
    return f(nums, at, this.strings);
  }
}

function compile(shape: Shape): Rebuild {
  const helpers: string[] = [];
  const expr = (s: Shape): string => {
    if (s === 'n') return 'x[i++]';
    if (s === 's') return 'S[x[i++]]';
    if (s === 'b') return '(x[i++] === 1)';
    if (s === 'z') return 'null';
    if (s === 'u') return 'undefined';
    if ('o' in s) return `{${s.o.map(([k, c]) => `${JSON.stringify(k)}: ${expr(c)}`).join(', ')}}`;
    if ('t' in s) return `(i++, [${s.t.map(expr).join(', ')}])`;
    // A uniform array: a helper with a loop (its length is the next number).
    const name = `a${helpers.length}`;
    helpers.push('');
    helpers[Number(name.slice(1))] =
      `function ${name}() { const n = x[i++]; const r = new Array(n); for (let k = 0; k < n; k++) r[k] = ${expr(s.a)}; return r; }`;
    return `${name}()`;
  };
  const root = expr(shape);
  // Code generated from our own shapes only (keys and strings written as JSON literals).
  return new Function('x', 'at', 'S', `let i = at;\n${helpers.join('\n')}\nreturn ${root};`) as Rebuild;
}
