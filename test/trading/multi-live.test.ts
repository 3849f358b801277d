/**
 * Live trading of two coins in one process, end to end against the loopback Hyperliquid server (ETH from the
 * real recording, BTC a synthetic world; real signatures), as a user runs it: `cjmm trade --live --coins
 * ETH,BTC` in its own process group, with its guard.
 * - one process, one market-data connection and one user-stream connection, one journal, one address request
 *   budget, the account's margin from the venue, one guard watching one heartbeat whose cloid prefix covers both
 *   coins' orders; the exchange's own scheduleCancel is refused (mainnet's $1M volume gate), so the guard is the
 *   only dead-man's switch;
 * - the trader hangs (SIGSTOP) while the market trades through a resting bid of each coin, then its whole
 *   process group is killed (kill -9): the guard cancels every order of both coins;
 * - the restart on the same journal recovers the fills of both coins made while it was down, each exactly once
 *   (journal fills = venue fills by trade id, positions = venue positions, realised P&L = the venue's closed
 *   P&L, the filled orders end `filled`, no adjustment), and stops cleanly with nothing resting.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { demoWorld } from '../../src/service/demo-world.ts';
import { pidAlive } from '../../src/trading/guard.ts';
import {
  type GuardReport,
  guardReportPath,
  type Heartbeat,
  heartbeatPath,
  readJson,
} from '../../src/trading/heartbeat.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { REPO_ROOT, SEED_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'cjmm-multi-live-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const COINS = ['ETH', 'BTC'];

/** `cjmm trade --live …` in its own process group; resolves with the exit code (null when killed). */
function cjmmTrade(args: string[]) {
  const child = spawn(process.execPath, [MAIN, 'trade', '--live', ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

describe('live trading of two coins in one process', { skip: sharedSkip, timeout: 240_000 }, () => {
  test('kill -9 of the process group: the guard cancels both coins’ orders; the restart recovers both coins’ fills exactly once', async () => {
    const world = await demoWorld(SEED_ROOT, COINS, { durationSec: 600, strategy: 'fixed' });
    const key = generatePrivateKey();
    const agent = privateKeyToAccount(key).address.toLowerCase();
    const master = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    // A young account: mainnet refuses it scheduleCancel, so only the guard protects the quotes.
    const server = await startLoopbackServer({
      events: world.events,
      coins: COINS,
      speed: 5,
      port: 0,
      accounts: [{ address: master }],
      agents: { [agent]: master },
    });
    const journal = join(dir, 'multi.sqlite');
    const keyFile = join(dir, 'multi.key');
    writeFileSync(keyFile, key);
    chmodSync(keyFile, 0o600);
    const cfgFile = join(dir, 'multi.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        network: 'loopback',
        httpUrl: server.httpUrl,
        wsUrl: server.wsUrl,
        mode: 'live',
        orderSize: 0.01,
        maxPosition: 3,
        // Wide quotes: they rest until something trades through them.
        strategy: { strategy: 'fixed', halfSpreadBps: 20 },
        markets: world.markets.map((m) =>
          Object.keys(m.overrides).length > 0 ? m.overrides : { coin: m.coin },
        ),
        deadMansSwitchSec: 30,
        reconcileIntervalSec: 1,
        statusIntervalSec: 1,
        risk: { staleMs: 60_000 },
        account: { masterAddress: master },
        journal,
        logLevel: 'info',
      }),
    );
    const byCoin = () => {
      const m = new Map<string, number>();
      for (const o of server.state.restingOrders(master)) m.set(o.coin, (m.get(o.coin) ?? 0) + 1);
      return m;
    };
    try {
      const first = cjmmTrade(['--config', cfgFile, '--key-file', keyFile, '--coins', COINS.join(',')]);
      await waitFor(
        () => COINS.every((c) => (byCoin().get(c) ?? 0) >= 2) || undefined,
        `both coins' quotes resting (output: ${first.output().slice(-3000)})`,
        90_000,
      );
      // One process, one journal, one heartbeat for both coins; one guard watching it.
      const hb = readJson<Heartbeat>(heartbeatPath(journal));
      assert.equal(hb?.coin, 'ETH,BTC');
      assert.equal(hb?.pid, first.child.pid);
      let guard: GuardReport | undefined;
      await waitFor(
        () => {
          guard = readJson<GuardReport>(guardReportPath(journal));
          return guard?.state === 'watching' || undefined;
        },
        'the guard watches',
        20_000,
      );
      const g = guard as GuardReport;
      const prefix = hb?.cloidPrefix ?? '';
      const resting = server.state.restingOrders(master);
      assert.ok(
        resting.every((o) => o.cloid?.startsWith(prefix)),
        "every coin's orders carry the session's one cloid prefix",
      );
      // One market-data connection for both coins, one connection for the account's streams.
      assert.equal(server.stats.wsConnections, 2, 'two WebSocket connections: market data and user streams');
      // The account line follows the coins' lines of the same tick, and says "(venue)" once the
      // venue's margin has been read: wait for both rather than assume one write carries them.
      await waitFor(
        () =>
          (/protect: guard \d+, no scheduleCancel \(account not eligible\)/.test(first.output()) &&
            /live account \| equity .* \| margin [\d.]+% \(venue\)/.test(first.output())) ||
          undefined,
        () =>
          `status: guard on, scheduleCancel refused, the account line with the venue's margin (output: ${first.output().slice(-2000)})`,
        15_000,
      );
      // One address request budget for both coins: their lines of one status tick show the same budget.
      const lines = first.output().split('\n');
      const i = lines.findLastIndex(
        (l, k) => / live ETH \| /.test(l) && / live BTC \| /.test(lines[k + 1] ?? ''),
      );
      assert.ok(i >= 0, 'an ETH line followed by a BTC line');
      const budget = (l: string) => /req\/USDC [^|]*budget (\d+) left/.exec(l)?.[1];
      assert.ok(budget(lines[i]) !== undefined);
      assert.equal(budget(lines[i]), budget(lines[i + 1]), 'the same address budget');

      // The trader hangs; meanwhile the market trades through a resting bid of each coin.
      const pgid = first.child.pid as number;
      process.kill(-pgid, 'SIGSTOP');
      const fillsBefore = server.state.account(master).fills.length;
      const downFills: { coin: string; tid: number; oid: number; cloid: string }[] = [];
      for (const coin of COINS) {
        const bid = server.state.restingOrders(master).find((o) => o.coin === coin && o.side === 'B');
        assert.ok(bid, `a ${coin} bid rests`);
        const hit = server.injectTrade({ coin, side: 'sell', px: bid.px * 0.999, sz: bid.sz * 3 });
        assert.ok(hit.fills >= 1, `the injected ${coin} trade filled the resting bid`);
        const f = server.state.account(master).fills.at(-1);
        assert.ok(f && f.oid === bid.oid);
        downFills.push({ coin, tid: f.tid, oid: f.oid, cloid: bid.cloid ?? '' });
      }
      assert.equal(server.state.account(master).fills.length, fillsBefore + 2);
      // kill -9 of the whole process group (the guard lives in its own).
      const killedAt = Date.now();
      process.kill(-pgid, 'SIGKILL');
      assert.equal(await first.exited, null, 'killed');
      assert.ok(pidAlive(g.pid), 'the guard outlived the trader’s process group');
      await waitFor(
        () => server.state.restingOrders(master).length === 0 || undefined,
        'every order gone',
        30_000,
      );
      const tookMs = Date.now() - killedAt;
      await waitFor(() => !pidAlive(g.pid) || undefined, 'the guard exits', 30_000);
      const report = readJson<GuardReport>(guardReportPath(journal));
      assert.equal(report?.state, 'cancelled');
      assert.ok(
        (report?.cancelled ?? 0) >= 2,
        `the guard cancelled both coins' orders (${report?.cancelled})`,
      );

      // Restart on the same journal: both coins' fills made while down are recovered, exactly once.
      const second = cjmmTrade([
        '--config',
        cfgFile,
        '--key-file',
        keyFile,
        '--coins',
        COINS.join(','),
        '--no-guard',
        '--duration',
        '6',
      ]);
      const code = await second.exited;
      assert.equal(code, 0, `restart exited ${code}: ${second.output().slice(-3000)}`);
      assert.match(second.output(), /trader live ETH, BTC: .* stopped \(duration\)/);
      assert.deepEqual(server.state.restingOrders(master), [], 'nothing rests after the stop');
      const acct = server.state.account(master);
      const j = openExistingJournal(journal);
      try {
        const jf = j.fills();
        assert.deepEqual(
          jf.map((f) => `${f.coin}:${f.tid}:${f.oid}`).sort(),
          acct.fills.map((f) => `${f.coin}:${f.tid}:${f.oid}`).sort(),
          'journal fills = venue fills, by trade id, each once',
        );
        for (const d of downFills) {
          const rec = jf.filter((f) => f.tid === d.tid);
          assert.equal(rec.length, 1, `${d.coin}: the fill made while down journalled once`);
          assert.equal(rec[0].coin, d.coin);
          assert.equal(rec[0].side, 'bid');
          assert.equal(j.order(d.cloid)?.state, 'filled', `${d.coin}: its order ends filled`);
        }
        const summary: string[] = [];
        for (const coin of COINS) {
          const book = j.positionBook(coin);
          const venuePos = acct.positions.get(coin)?.szi ?? 0;
          assert.ok(
            Math.abs(book.position - venuePos) < 1e-9,
            `${coin}: journal ${book.position} vs venue ${venuePos}`,
          );
          const vf = acct.fills.filter((f) => f.coin === coin);
          const closed = vf.reduce((s, f) => s + Number(f.closedPnl), 0);
          assert.ok(
            Math.abs(book.realised - closed) < 1e-6 * (1 + vf.length),
            `${coin}: realised = venue closedPnl`,
          );
          summary.push(`${coin} ${vf.length} fills, position ${book.position} (venue ${venuePos})`);
        }
        assert.equal(j.history({ type: 'adjustment' }).length, 0, 'the fills explain both positions');
        const reconciled = j
          .history({ type: 'session', limit: 50 })
          .map(
            (r) =>
              r.data as {
                event: string;
                fillsRecovered?: number;
                coins?: { coin: string; fillsRecovered: number }[];
              },
          )
          .filter((d) => d.event === 'reconciled');
        assert.equal(reconciled.length, 2);
        const second = reconciled[1];
        assert.equal(second.fillsRecovered, 2, 'the restart recovered the two fills made while down');
        assert.deepEqual(
          second.coins?.map((c) => [c.coin, c.fillsRecovered]),
          [
            ['ETH', 1],
            ['BTC', 1],
          ],
        );
        assert.equal(j.openOrders().length, 0);
        console.log(
          `# two coins live, kill -9: orders gone ${tookMs} ms after the kill (guard cancelled ${report?.cancelled}); restart recovered ${second.fillsRecovered} fills (ETH 1, BTC 1); ${summary.join('; ')}`,
        );
      } finally {
        j.close();
      }
    } finally {
      await server.close();
    }
  });
});
