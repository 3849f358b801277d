import { DOUBLE, INTEGER, DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api';
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const inst = await DuckDBInstance.create(':memory:', { threads: process.env.TH ?? '2' });
const conn = await inst.connect();
const ncol = 126; const N = 10000;
const types = Array.from({ length: ncol }, (_, j) => (j % 3 === 2 ? INTEGER : DOUBLE));
const cols = types.map((t, j) => `c${j} ${j % 3 === 2 ? 'INTEGER' : 'DOUBLE'}`).join(',');
for (let rep = 0; rep < 3; rep++) {
  let c0 = cpu(), t0 = performance.now();
  await conn.run(`CREATE OR REPLACE TEMP TABLE t (${cols})`);
  const app = await conn.createAppender('t');
  const chunk = DuckDBDataChunk.create(types, 2048);
  const vs = types.map((_, j) => chunk.getColumnVector(j) as any);
  for (let k = 0; k < N;) {
    const m = Math.min(2048, N - k);
    for (let r = 0; r < m; r++, k++) for (let j = 0; j < ncol; j++) vs[j].setItem(r, j % 3 === 2 ? (k + j) % 40 : 3350 + Math.random());
    for (const v of vs) v.flush();
    chunk.rowCount = m; app.appendDataChunk(chunk);
  }
  app.flushSync(); app.closeSync();
  console.log('append', (performance.now() - t0).toFixed(0), 'wall', (cpu() - c0).toFixed(0), 'cpu');
  for (const comp of ['zstd', 'snappy', 'uncompressed', 'lz4']) {
    c0 = cpu(); t0 = performance.now();
    await conn.run(`COPY t TO '/tmp/b2/x-${comp}.parquet' (FORMAT parquet, COMPRESSION ${comp})`);
    console.log(comp, (performance.now() - t0).toFixed(0), 'wall', (cpu() - c0).toFixed(0), 'cpu');
  }
}
