/**
 * Runs one `cjmm` command in this process (the real CLI path) and, at exit, prints on stderr a line
 * `BENCH {"wallMs", "cpuMs", "maxRssMiB"}` with this process's wall time, CPU time (all threads: user +
 * system) and peak resident memory. Used by bench/optimize.bench.ts (a child per configuration, so peaks
 * and CPU do not mix). Usage: node bench/helpers/cli-run.ts <cjmm args…>
 */
const t0 = performance.now();
const c0 = process.cpuUsage();
process.on('exit', () => {
  const c = process.cpuUsage(c0);
  const ru = process.resourceUsage();
  process.stderr.write(
    `BENCH ${JSON.stringify({ wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, maxRssMiB: ru.maxRSS / 1024 })}\n`,
  );
});
process.argv = [process.argv[0], 'cjmm', ...process.argv.slice(2)];
await import('../../src/cli/main.ts');
