/**
 * Several processes on one account: one trader per API wallet (a lock naming the holder's pid; released by
 * the kernel when the holder is killed), and clean-ups scoped to this trader's own orders (cloid prefix):
 * another trader's order on the same account survives our start and stop unless `startupCleanup: 'all'`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ExchangeClient, HttpTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { parseTradingConfig, type TradingConfigInput } from '../../src/trading/config.ts';
import { sessionCloidPrefix, traderCloidTag } from '../../src/trading/identity.ts';
import { agentKeyFromHex } from '../../src/trading/keys.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { runTradingSession, SessionError } from '../../src/trading/session.ts';
import { acquireSignerLock, SignerLockError } from '../../src/trading/signer-lock.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-shared-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const quiet = () => createTradingLogger('info', new Writable({ write: (_c, _e, cb) => cb() }));

describe('the API wallet lock', () => {
  test('a second holder is refused with the first one’s pid; released → free again', async () => {
    const signer = privateKeyToAccount(generatePrivateKey()).address;
    const a = await acquireSignerLock({ signer, endpoint: 'http://x', coin: 'ETH', journal: 'j1' });
    await assert.rejects(
      acquireSignerLock({ signer, endpoint: 'http://x', coin: 'BTC', journal: 'j2' }),
      (err: unknown) =>
        err instanceof SignerLockError &&
        err.holder?.pid === process.pid &&
        err.message.includes(`pid ${process.pid}`) &&
        /One API wallet per process/.test(err.message),
    );
    // Another endpoint (another network) is another nonce space: allowed.
    const other = await acquireSignerLock({ signer, endpoint: 'http://y', coin: 'ETH', journal: 'j3' });
    await other.release();
    await a.release();
    const b = await acquireSignerLock({ signer, endpoint: 'http://x', coin: 'ETH', journal: 'j1' });
    await b.release();
  });

  test('the kernel frees the lock of a process killed with SIGKILL', async () => {
    const signer = privateKeyToAccount(generatePrivateKey()).address;
    const code = `
      const { acquireSignerLock } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/trading/signer-lock.ts'))});
      await acquireSignerLock({ signer: '${signer}', endpoint: 'http://x', coin: 'ETH', journal: 'child' });
      console.log('locked');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    await waitFor(() => out.includes('locked'), 'child holds the lock', 10_000);
    await assert.rejects(
      acquireSignerLock({ signer, endpoint: 'http://x', coin: 'ETH', journal: 'me' }),
      (e: unknown) => e instanceof SignerLockError && e.holder?.pid === child.pid,
    );
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const l = await acquireSignerLock({ signer, endpoint: 'http://x', coin: 'ETH', journal: 'me' });
    await l.release();
  });
});

describe('traders sharing an account (loopback)', { skip: sharedSkip }, () => {
  let events: MarketEvent[] = [];
  before(async () => {
    events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  });

  const cfg = (over: Partial<TradingConfigInput> & { httpUrl: string; wsUrl: string; journal: string }) =>
    parseTradingConfig({
      coin: 'ETH',
      orderSize: 0.01,
      maxPosition: 3,
      network: 'loopback',
      mode: 'live',
      strategy: { strategy: 'fixed', halfSpreadBps: 20 },
      statusIntervalSec: 60,
      deadMansSwitchSec: 30,
      reconcileIntervalSec: 1,
      guard: false,
      ...over,
    });

  async function setup() {
    const master = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const mine = agentKeyFromHex(generatePrivateKey(), 'test key');
    const otherKey = generatePrivateKey();
    const other = privateKeyToAccount(otherKey);
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      accounts: [{ address: master }],
      agents: { [mine.address.toLowerCase()]: master, [other.address.toLowerCase()]: master },
    });
    // Another trader's order on the same account, with its own cloid (and one placed by hand, without).
    const ex = new ExchangeClient({
      transport: new HttpTransport({ apiUrl: server.httpUrl }),
      wallet: other,
    });
    const foreignCloid = `0x${'ab'.repeat(16)}` as `0x${string}`;
    await ex.order({
      orders: [
        { a: 1, b: true, p: '3000', s: '0.01', r: false, t: { limit: { tif: 'Gtc' } }, c: foreignCloid },
        { a: 1, b: false, p: '3700', s: '0.01', r: false, t: { limit: { tif: 'Gtc' } } },
      ],
      grouping: 'na',
    });
    assert.equal(server.state.restingOrders(master).length, 2);
    return { master, mine, server, foreignCloid };
  }

  test("own clean-up: another trader's orders survive our start and stop; our cloids carry our prefix", async () => {
    const { master, mine, server } = await setup();
    try {
      const journal = join(dir, 'own.sqlite');
      const config = cfg({
        httpUrl: server.httpUrl,
        wsUrl: server.wsUrl,
        journal,
        account: { masterAddress: master },
      });
      const tag = traderCloidTag({ coin: 'ETH', journal });
      let ours: string[] = [];
      const s = await runTradingSession({
        config,
        logger: quiet(),
        key: mine,
        onStatus: () => {},
        durationMs: 2500,
        onStarted: (r) => {
          void waitFor(() => r.engine.orders.openOrders().some((o) => o.state === 'open'), 'quotes', 5000)
            .then(() => {
              ours = server.state
                .restingOrders(master)
                .map((o) => o.cloid ?? '')
                .filter((c) => c.startsWith(tag));
            })
            .catch(() => {});
        },
      });
      assert.ok(ours.length > 0, 'our quotes rested');
      const prefix = sessionCloidPrefix(tag, s.startedAt);
      assert.ok(
        ours.every((c) => c.startsWith(prefix)),
        `cloids ${ours.join(',')} start with ${prefix}`,
      );
      assert.equal(s.restingAfterStop, 0);
      const left = server.state.restingOrders(master);
      assert.equal(left.length, 2, "the other trader's two orders are still there");
      assert.ok(left.every((o) => !(o.cloid ?? '').startsWith(tag)));
    } finally {
      await server.close();
    }
  });

  test("startupCleanup 'all' cancels every order of the account at start", async () => {
    const { master, mine, server } = await setup();
    try {
      let atStart = -1;
      const journal = join(dir, 'all.sqlite');
      const tag = traderCloidTag({ coin: 'ETH', journal });
      await runTradingSession({
        config: cfg({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal,
          account: { masterAddress: master },
          startupCleanup: 'all',
        }),
        logger: quiet(),
        key: mine,
        onStatus: () => {},
        durationMs: 1000,
        onStarted: () => {
          atStart = server.state.restingOrders(master).filter((o) => !(o.cloid ?? '').startsWith(tag)).length;
        },
      });
      assert.equal(atStart, 0);
    } finally {
      await server.close();
    }
  });

  test('a second trader on the same API wallet is refused before it opens a journal', async () => {
    const { master, mine, server } = await setup();
    try {
      const first = runTradingSession({
        config: cfg({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal: join(dir, 'first.sqlite'),
          account: { masterAddress: master },
        }),
        logger: quiet(),
        key: mine,
        onStatus: () => {},
        durationMs: 3000,
      });
      await new Promise((r) => setTimeout(r, 500));
      const secondJournal = join(dir, 'second.sqlite');
      await assert.rejects(
        runTradingSession({
          config: cfg({
            httpUrl: server.httpUrl,
            wsUrl: server.wsUrl,
            journal: secondJournal,
            account: { masterAddress: master },
          }),
          logger: quiet(),
          key: mine,
          onStatus: () => {},
          durationMs: 1000,
        }),
        (e: unknown) => e instanceof SessionError && e.message.includes(`pid ${process.pid}`),
      );
      assert.equal(existsSync(secondJournal), false, 'no journal created by the refused trader');
      const s = await first;
      assert.equal(s.restingAfterStop, 0);
    } finally {
      await server.close();
    }
  });
});
