/**
 * `cjmm serve` as users run it: one process with the recorder, the trader and the API (recorder and trader on
 * one market-data connection), against the loopback server replaying the real ETH recording. SIGTERM stops it cleanly (exit 0: orders cancelled, journal and
 * store flushed); config errors exit 2 before anything starts.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../src/marketdata/store/index.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { REPO_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { ethEvents, TEST_TOKEN } from './harness.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'cjmm-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, c: Record<string, unknown>): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(c));
  return p;
}

test('serve: invalid config exits 2 naming every field, before anything starts', () => {
  const cfg = writeConfig('bad.json', {
    coin: 'ETH',
    orderSize: 0.01,
    journal: join(dir, 'bad.sqlite'),
    api: { port: 70000, colour: 'red' },
    webhooks: [{ url: 'ftp://x' }],
    telegram: { tokenEnv: 'X' },
    alerts: { kappaEpsilonMax: -1 },
  });
  const r = spawnSync(process.execPath, [MAIN, 'serve', '--config', cfg], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  for (const m of [
    /api\.port: must be between 0 and 65535/,
    /api: unknown field\(s\) colour/,
    /webhooks\.0\.url: must be an http or https URL/,
    /telegram\.chatId: is required/,
    /alerts\.kappaEpsilonMax: must be >= 0/,
  ]) {
    assert.match(r.stderr, m);
  }
  assert.equal(existsSync(join(dir, 'bad.sqlite')), false, 'no journal created');
  const port = spawnSync(process.execPath, [MAIN, 'trade', '--api-port', 'eighty'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(port.status, 2);
  assert.match(port.stderr, /--api-port must be a port number between 0 and 65535; got 'eighty'/);
});

describe('serve against the loopback server', { skip: sharedSkip }, () => {
  let server: LoopbackServer;
  let child: ChildProcess;
  before(async () => {
    server = await startLoopbackServer({
      events: await ethEvents(),
      coins: ['ETH'],
      speed: 20,
      port: 0,
      shiftToNow: true,
    });
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await server?.close();
  });

  test('recorder + trader + API in one process; SIGTERM: orders cancelled, journal and store flushed, exit 0', async () => {
    const store = join(dir, 'store');
    const journal = join(dir, 'serve.sqlite');
    const cfg = writeConfig('serve.json', {
      coin: 'ETH',
      orderSize: 0.01,
      maxPosition: 3,
      network: 'loopback',
      httpUrl: server.httpUrl,
      wsUrl: server.wsUrl,
      journal,
      statusIntervalSec: 1,
      strategy: { strategy: 'fixed', halfSpreadTicks: 1 },
      api: { port: 0 },
      record: { store, flushIntervalSec: 1 },
    });
    let out = '';
    let err = '';
    child = spawn(process.execPath, [MAIN, 'serve', '--config', cfg], {
      env: { ...process.env, CJMM_API_TOKEN: TEST_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c) => {
      out += c;
    });
    child.stderr!.on('data', (c) => {
      err += c;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const apiUrl = await waitFor(
      () => /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(err)?.[1],
      'the API address in the log',
      30_000,
    );
    assert.ok(!err.includes(TEST_TOKEN), 'the token is never logged');
    const get = async (p: string) => {
      const r = await fetch(apiUrl + p, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      return (await r.json()) as Record<string, unknown>;
    };
    let fills = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && fills === 0) {
      fills = ((await get('/api/v1/fills')) as { fills: unknown[] }).fills.length;
      if (fills === 0) await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(fills > 0, 'the trader filled');
    const status = (await get('/api/v1/status')) as { markets: { coin: string; state: string }[] };
    assert.equal(status.markets[0].coin, 'ETH');
    await new Promise((r) => setTimeout(r, 2500)); // a recorder flush or two
    child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `exit code\n${err.slice(-2000)}`);
    assert.match(out, /session paper ETH: .* stopped \(signal\)/);
    assert.match(out, /resting after stop: 0/);
    assert.match(out, /recorder: \d+ events written/);
    assert.match(err, /recorder stopped, store flushed/);
    assert.equal(server.stats.wsConnections, 1, 'recorder and trader share one market-data connection');
    const j = openExistingJournal(journal);
    try {
      const st = j.status();
      assert.equal(st.openOrders.length, 0);
      assert.equal((st.lastSession!.data as { event: string }).event, 'stop');
    } finally {
      j.close();
    }
    const s = await openStore(store);
    try {
      const n = Number(/recorder: (\d+) events/.exec(out)![1]);
      assert.ok(n > 0, 'the recorder wrote events');
      const q = await s.query({ coin: 'ETH' });
      assert.equal(q.events.length, n, 'every event the recorder counted is in the store');
      assert.ok(q.events.some((e) => e.kind === 'book') && q.events.some((e) => e.kind === 'trade'));
    } finally {
      await s.close();
    }
  });
});
