/**
 * A regime model as users hand it over: the `regimes` object of `cjmm calibrate --json` (or the whole
 * calibration output, which holds it), or a hand-written file of the same shape:
 *
 *   { "thresholds": [0.333, 0.667],                      // imbalance cut points (optional: equal width)
 *     "generator": [[0, 0.3, 0.05], [0.2, 0, 0.2], …],     // 1/s; the diagonal is ignored
 *     "params": [{ "lambdaPlus": …, "lambdaMinus": …, "kappaPlus": …, "kappaMinus": …,
 *                  "epsilonPlus": …, "epsilonMinus": … }, …] }
 *
 * Other keys (standard errors, samples, quality) are accepted and ignored. Pure: parsing takes the JSON.
 */
import { z } from 'zod';

const num = z.number().refine(Number.isFinite, 'must be a finite number');

export const RegimeMarketParamsSchema = z.object({
  lambdaPlus: num.refine((v) => v > 0, 'must be > 0'),
  lambdaMinus: num.refine((v) => v > 0, 'must be > 0'),
  kappaPlus: num.refine((v) => v > 0, 'must be > 0'),
  kappaMinus: num.refine((v) => v > 0, 'must be > 0'),
  epsilonPlus: num,
  epsilonMinus: num,
});

export const RegimeModelSchema = z
  .object({
    count: z.number().int().optional(),
    thresholds: z.array(num).optional(),
    generator: z.array(z.array(num)),
    params: z
      .array(RegimeMarketParamsSchema)
      .min(1, 'needs at least one regime')
      .max(10, 'at most 10 regimes'),
  })
  .superRefine((r, ctx) => {
    const m = r.params.length;
    if (r.count !== undefined && r.count !== m)
      ctx.addIssue({ code: 'custom', path: ['count'], message: `is ${r.count} but params has ${m} regimes` });
    if (r.generator.length !== m || r.generator.some((row) => row.length !== m))
      ctx.addIssue({
        code: 'custom',
        path: ['generator'],
        message: `must be ${m}×${m} (one row per regime)`,
      });
    else
      r.generator.forEach((row, zi) => {
        row.forEach((c, w) => {
          if (w !== zi && !(c >= 0))
            ctx.addIssue({ code: 'custom', path: ['generator', zi, w], message: 'must be a rate >= 0' });
        });
      });
    const t = r.thresholds;
    if (
      t !== undefined &&
      (t.length !== m - 1 || t.some((x, k) => !(x > 0 && x < 1) || (k > 0 && !(x > t[k - 1]))))
    )
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds'],
        message: `must be ${m - 1} ascending imbalance cut points in (0, 1)`,
      });
  });

export type RegimeModelInput = z.infer<typeof RegimeModelSchema>;

/** The regime model in the solver's terms: thresholds, a flat row-major generator, market parameters. */
export interface RegimeMarket {
  thresholds: number[];
  generator: Float64Array;
  params: z.infer<typeof RegimeMarketParamsSchema>[];
}

export function regimeMarketOf(r: RegimeModelInput): RegimeMarket {
  const m = r.params.length;
  const generator = new Float64Array(m * m);
  for (let zi = 0; zi < m; zi++)
    for (let w = 0; w < m; w++) if (w !== zi) generator[zi * m + w] = r.generator[zi][w];
  return {
    thresholds: r.thresholds ?? Array.from({ length: m - 1 }, (_, k) => (k + 1) / m),
    generator,
    params: r.params.map((p) => ({ ...p })),
  };
}

/** Parses a regime file's text (the regimes object, or a calibration output holding one). */
export function parseRegimeFile(text: string, source = 'regime file'): RegimeMarket {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const obj =
    json && typeof json === 'object' && 'regimes' in json && !('generator' in json)
      ? (json as { regimes: unknown }).regimes
      : json;
  if (obj === undefined || obj === null)
    throw new Error(
      `${source}: no regime model (run cjmm calibrate with --regimes, or give {generator, params})`,
    );
  const r = RegimeModelSchema.safeParse(obj);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: ${msgs.join('; ')}`);
  }
  return regimeMarketOf(r.data);
}
