/**
 * The compile cache (src/util/compile-cache.ts): `cjmm` fills Node's on-disk cache under the temp directory
 * (nothing set), the worker threads it starts use the same cache (they read NODE_COMPILE_CACHE at their
 * start, not the API's setting), and NODE_DISABLE_COMPILE_CACHE=1 writes nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-compile-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');

/** The environment without any compile-cache setting, with its own temp directory. */
function env(tmp: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  delete e.NODE_COMPILE_CACHE;
  delete e.NODE_DISABLE_COMPILE_CACHE;
  return { ...e, ...extra };
}

/** Cache files under <tmp>/node-compile-cache (0 when there is none). */
function cached(tmp: string): number {
  const root = join(tmp, 'node-compile-cache');
  if (!existsSync(root)) return 0;
  return readdirSync(root).reduce((n, v) => n + readdirSync(join(root, v)).length, 0);
}

test('cjmm fills the cache under the temp directory; NODE_DISABLE_COMPILE_CACHE=1 writes none', () => {
  const on = join(dir, 'on');
  const off = join(dir, 'off');
  for (const d of [on, off]) rmSync(d, { recursive: true, force: true });
  for (const d of [on, off]) spawnSync('mkdir', ['-p', d]);
  const a = spawnSync(process.execPath, [CLI, '--version'], { env: env(on), encoding: 'utf8' });
  assert.equal(a.status, 0, a.stderr);
  assert.ok(cached(on) > 20, `cache files of the CLI's modules: ${cached(on)}`);
  const b = spawnSync(process.execPath, [CLI, '--version'], {
    env: env(off, { NODE_DISABLE_COMPILE_CACHE: '1' }),
    encoding: 'utf8',
  });
  assert.equal(b.status, 0, b.stderr);
  assert.equal(cached(off), 0);
});

test('a worker thread started after enableCompileCache uses the same cache directory', () => {
  const tmp = join(dir, 'worker');
  spawnSync('mkdir', ['-p', tmp]);
  const script = `
    import { Worker } from 'node:worker_threads';
    const { enableCompileCache } = await import(${JSON.stringify(join(REPO_ROOT, 'src', 'util', 'compile-cache.ts'))});
    enableCompileCache();
    const w = new Worker("const g = process.getBuiltinModule; g('node:worker_threads').parentPort.postMessage(String(g('node:module').getCompileCacheDir()))", { eval: true });
    w.on('message', (m) => { console.log(m); w.terminate(); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: env(tmp),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(
    r.stdout.trim().startsWith(join(tmp, 'node-compile-cache')),
    `the worker's cache directory: ${r.stdout.trim()}`,
  );
});
