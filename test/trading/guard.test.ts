/**
 * `cjmm guard` end to end on the loopback exchange, with real processes: a live trader (child process in its
 * own process group) starts its guard detached; then
 * - kill -9 of the trader's whole process group: the guard survives, and every order of the session is gone
 *   within the grace (`deadMansSwitchSec`), cancelled by the guard (its report says so), while the exchange's
 *   own scheduleCancel is refused for this account (mainnet's $1M volume gate);
 * - a hung trader (SIGSTOP: alive, no heartbeat): after the grace the guard kills it and cancels;
 * - a clean stop: the guard exits without touching anything.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { pidAlive } from '../../src/trading/guard.ts';
import { type GuardReport, guardReportPath, readJson } from '../../src/trading/heartbeat.ts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-guard-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the guard process', { skip: sharedSkip, timeout: 180_000 }, () => {
  let events: MarketEvent[] = [];
  before(async () => {
    events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  });

  async function start(name: string, graceSec: number, durationSec?: number) {
    const key = generatePrivateKey();
    const agent = privateKeyToAccount(key).address.toLowerCase();
    const master = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 5,
      port: 0,
      accounts: [{ address: master }],
      agents: { [agent]: master },
    });
    const journal = join(dir, `${name}.sqlite`);
    const args = [
      join(REPO_ROOT, 'test/trading/fixtures/guarded-child.ts'),
      server.httpUrl,
      server.wsUrl,
      journal,
      master,
      String(graceSec),
      ...(durationSec ? [String(durationSec)] : []),
    ];
    // Its own process group, so the test can kill the whole group as a shell's job control would.
    const child = spawn(process.execPath, args, {
      env: { ...process.env, CJMM_PRIVATE_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += String(d)));
    child.stderr?.on('data', (d) => (out += String(d)));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    return { server, journal, child, master, exited, output: () => out };
  }

  async function guardReport(journal: string): Promise<GuardReport> {
    let r: GuardReport | undefined;
    await waitFor(
      () => {
        r = readJson<GuardReport>(guardReportPath(journal));
        return r?.state === 'watching';
      },
      'the guard watches',
      20_000,
    );
    return r as GuardReport;
  }

  async function quotesResting(server: LoopbackServer, master: string) {
    await waitFor(() => server.state.restingOrders(master).length >= 2, 'both quotes rest', 30_000);
  }

  async function guardGone(pid: number) {
    await waitFor(() => !pidAlive(pid), 'the guard exits', 30_000);
  }

  test("kill -9 of the trader's process group: the guard cancels every order within the grace", async (tc) => {
    const graceSec = 20;
    const t = await start('kill', graceSec);
    try {
      const g = await guardReport(t.journal);
      await quotesResting(t.server, t.master);
      // The status line names the protections in force once the guard watches.
      await waitFor(() => t.output().includes(`protect: guard ${g.pid}`), 'status: guard on', 10_000);
      const status =
        t
          .output()
          .split('\n')
          .filter((l) => l.includes(`protect: guard ${g.pid}`))
          .pop() ?? '';
      const killedAt = Date.now();
      process.kill(-(t.child.pid as number), 'SIGKILL');
      await t.exited;
      assert.ok(pidAlive(g.pid), 'the guard outlived the trader’s process group');
      await waitFor(
        () => t.server.state.restingOrders(t.master).length === 0,
        'every order gone',
        graceSec * 1000,
      );
      const tookMs = Date.now() - killedAt;
      assert.ok(tookMs < graceSec * 1000, `gone after ${tookMs} ms (grace ${graceSec} s)`);
      await guardGone(g.pid);
      const r = readJson<GuardReport>(guardReportPath(t.journal));
      assert.equal(r?.state, 'cancelled');
      assert.ok((r?.cancelled ?? 0) >= 2, `the guard cancelled them (${r?.cancelled})`);
      assert.match(r?.reason ?? '', /is gone/);
      // Mainnet's volume gate: the exchange's own switch was refused, so only the guard protected the quotes.
      // (A loopback from before the gate: the guard's report above already shows it did the cancelling.)
      const gated =
        typeof (t.server.state as unknown as { setupAccount?: unknown }).setupAccount === 'function';
      if (gated) assert.match(status, /no scheduleCancel \(account not eligible\)/, status);
      if (!gated) tc.diagnostic('loopback without the $1M scheduleCancel gate: not checked here');
      console.log(`guard: orders gone ${tookMs} ms after kill -9 (grace ${graceSec} s): ${status}`);
    } finally {
      await t.server.close();
    }
  });

  test('a hung trader (SIGSTOP): after the grace the guard kills it and cancels', async () => {
    const graceSec = 6;
    const t = await start('hung', graceSec);
    try {
      const g = await guardReport(t.journal);
      await quotesResting(t.server, t.master);
      process.kill(t.child.pid as number, 'SIGSTOP');
      await waitFor(
        () => t.server.state.restingOrders(t.master).length === 0,
        'every order gone',
        graceSec * 1000 + 15_000,
      );
      await t.exited; // killed by the guard
      await guardGone(g.pid);
      const r = readJson<GuardReport>(guardReportPath(t.journal));
      assert.equal(r?.state, 'cancelled');
      assert.match(r?.reason ?? '', /no heartbeat for .* killed the hung trader/);
    } finally {
      if (t.child.exitCode === null && t.child.signalCode === null) {
        (t.child as ChildProcess).kill('SIGKILL');
      }
      await t.server.close();
    }
  });

  test('a clean stop: the guard exits without cancelling anything', async () => {
    const t = await start('clean', 10, 6);
    try {
      const g = await guardReport(t.journal);
      await t.exited;
      await guardGone(g.pid);
      const r = readJson<GuardReport>(guardReportPath(t.journal));
      assert.equal(r?.state, 'stopped-clean');
      assert.equal(t.server.state.restingOrders(t.master).length, 0);
      const log = readFileSync(`${t.journal}.guard.log`, 'utf8');
      assert.match(log, /the trader stopped cleanly/);
      assert.ok(!log.includes('0x') || !/[0-9a-f]{64}/.test(log), 'no key material in the guard log');
    } finally {
      await t.server.close();
    }
  });
});
