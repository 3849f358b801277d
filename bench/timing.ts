/** Small timing helpers for benchmark scripts (never for tests). */

export interface TimingStats {
  median: number;
  p10: number;
  p90: number;
  runs: number;
}

/** Time `fn` repeatedly (after a warm-up) and return per-call statistics in microseconds. */
export function timeIt(fn: () => unknown, opts: { minRuns?: number; minMs?: number; warmup?: number } = {}) {
  const { minRuns = 20, minMs = 500, warmup = 5 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
    if (samples.length > 1e6) break;
  }
  return summarize(samples);
}

export async function timeItAsync(
  fn: () => Promise<unknown>,
  opts: { minRuns?: number; warmup?: number } = {},
) {
  const { minRuns = 10, warmup = 2 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < minRuns; i++) {
    const t0 = performance.now();
    await fn();
    samples.push((performance.now() - t0) * 1000);
  }
  return summarize(samples);
}

export function summarize(samplesUs: number[]): TimingStats {
  const s = [...samplesUs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: at(0.5), p10: at(0.1), p90: at(0.9), runs: s.length };
}

export function fmtUs(us: number): string {
  if (us < 1000) return `${us.toFixed(1)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

/** One result line: name, figure, target, verdict. */
export function report(name: string, figure: string, target?: string, ok?: boolean) {
  const verdict = ok === undefined ? '' : ok ? '  ok' : '  MISSED';
  console.log(`${name.padEnd(58)} ${figure.padStart(14)}${target ? `   target ${target}` : ''}${verdict}`);
}
