/** Without network access, `cjmm trade` (what `npm start` runs) says the exchange cannot be reached and points to the demo. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { networkFailure } from '../../src/trading/session.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('cjmm trade against an unreachable exchange: exit 1, "cannot reach the exchange", points to npx cjmm demo', async () => {
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-unreach-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'src/cli/main.ts'),
        'trade',
        '--http-url',
        `http://127.0.0.1:${port}`,
        '--ws-url',
        `ws://127.0.0.1:${port}/ws`,
        '--journal',
        join(dir, 'j.sqlite'),
        '--duration',
        '5',
      ],
      { encoding: 'utf8', cwd: REPO_ROOT },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /cannot reach the exchange at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED/);
    assert.match(r.stderr, /npx cjmm demo/);
    assert.ok(!/at .*\.ts:\d+/.test(r.stderr), 'no stack trace');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('networkFailure reads the innermost system error; other failures are not called network failures', () => {
  const dns = Object.assign(new Error('getaddrinfo ENOTFOUND api.hyperliquid.xyz'), { code: 'ENOTFOUND' });
  const wrapped = new Error('Unknown HTTP request error: fetch failed', {
    cause: new TypeError('fetch failed', { cause: dns }),
  });
  assert.equal(networkFailure(wrapped), 'getaddrinfo ENOTFOUND api.hyperliquid.xyz');
  assert.equal(networkFailure(new Error('422 Unprocessable Entity: unknown type')), undefined);
});
