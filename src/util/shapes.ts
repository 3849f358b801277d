/**
 * Object and array shapes that V8 does not have to change mid-run. Each change below, in a hot object, throws
 * away optimised code in every worker thread's isolate (hyperopt epochs): waves of deopts over its first
 * epochs and the compiles that follow (docs/optimize.md, "Per-thread warm-up").
 *
 * `F0`: +0 as V8 stores a double, for initialising number fields that will hold fractional values.
 * V8 tracks a representation per object field: a literal `0` is a small integer (Smi), and a field first
 * written with a Smi and later with a fractional number is generalised Smi → Double. That deprecates the
 * object's map (and its siblings in the transition tree): every object with it migrates, and code optimised
 * against the old maps is thrown away ("dependent prototype chain changed") and compiled again. A field
 * initialised with F0 is a Double field from the start; `Object.is(F0, 0)`: the value is the same.
 * Likewise: never undefined-then-number nor number-then-object in a hot object (start with NaN or null
 * and the final type), and keep arrays' element kinds stable.
 */
export const F0: number = new Float64Array(1)[0];

/**
 * An array of `n` copies of `value` without holes. `new Array(n).fill(value)` fills a holey array; measured
 * in a worker thread (Node 24), the tenth or so such fill of a 4096-slot array changed Array.prototype's map,
 * and every optimised function that read an array (the replay's book levels, the engine, the strategy) was
 * thrown away at once.
 */
export function filledArray<T>(n: number, value: T): T[] {
  const a: T[] = [];
  for (let i = 0; i < n; i++) a.push(value);
  return a;
}
