/**
 * Throttled mode end to end on the loopback exchange with an account whose cumulative request budget is used up
 * (mainnet's rule, on by default in the loopback: one request 10 s after the last admitted, every other refused
 * whole with "Too many cumulative requests sent"). A counting proxy in front of the loopback's HTTP API records
 * every /exchange request and its answer over a 25 s window of a live session that would otherwise requote many
 * times a second. Expected: THROTTLED in status, said once in the logs, journalled; at most one order/modify per
 * 10 s slot, no run of refusals (no tight loop).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { readSource } from '../../src/marketdata/source.ts';
import { parseTradingConfig } from '../../src/trading/config.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { agentKeyFromHex } from '../../src/trading/keys.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { runTradingSession } from '../../src/trading/session.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-throttle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  at: number;
  type: string;
  refused: boolean;
}

/** An HTTP proxy to `target` that records each /exchange action type and whether it was refused for the budget. */
async function countingProxy(target: string) {
  const seen: Seen[] = [];
  const t = new URL(target);
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fwd = request(
        { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c) => out.push(c));
          up.on('end', () => {
            const text = Buffer.concat(out).toString();
            if (req.url?.startsWith('/exchange')) {
              const type =
                (JSON.parse(body.toString()) as { action?: { type?: string } }).action?.type ?? '?';
              seen.push({ at: Date.now(), type, refused: text.includes('Too many cumulative requests') });
            }
            res.writeHead(up.statusCode ?? 500, up.headers);
            res.end(text);
          });
        },
      );
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

test('an exhausted address budget on the loopback: THROTTLED, said once, one order/modify per 10 s, no refusal loop', {
  skip: sharedSkip,
  timeout: 120_000,
}, async () => {
  const events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  const agent = agentKeyFromHex(generatePrivateKey(), 'test key');
  const master = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
  // Budget used up: $200k traded → cap 210,000; 5,000 over it (fills during the test earn ~33 requests each,
  // far from enough to leave the throttle); cancels keep their own cap (310,000).
  const server = await startLoopbackServer({
    events,
    coins: ['ETH'],
    speed: 10,
    port: 0,
    accounts: [{ address: master, lifetimeVolume: 200_000, requestsUsed: 215_000 }],
    agents: { [agent.address.toLowerCase()]: master },
  });
  const proxy = await countingProxy(server.httpUrl);
  const logs: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      logs.push(String(c));
      cb();
    },
  });
  const status: string[] = [];
  const journal = join(dir, 'throttle.sqlite');
  const WINDOW = 25_000;
  let t0 = 0;
  try {
    const s = await runTradingSession({
      config: parseTradingConfig({
        coin: 'ETH',
        orderSize: 0.01,
        maxPosition: 3,
        network: 'loopback',
        httpUrl: proxy.url,
        wsUrl: server.wsUrl,
        journal,
        mode: 'live',
        account: { masterAddress: master },
        // Tight quotes that follow every tick: unthrottled, this requotes several times a second.
        strategy: { strategy: 'fixed', halfSpreadTicks: 1 },
        statusIntervalSec: 2,
        reconcileIntervalSec: 2,
        guard: false,
        deadMansSwitchSec: 0,
      }),
      logger: createTradingLogger('info', sink),
      key: agent,
      onStatus: (l) => status.push(l),
      durationMs: WINDOW,
      onStarted: () => {
        t0 = Date.now();
      },
    });
    const window = proxy.seen.filter((x) => x.at >= t0);
    const quotes = window.filter(
      (x) => x.type === 'order' || x.type === 'batchModify' || x.type === 'modify',
    );
    const admitted = quotes.filter((x) => !x.refused);
    const refused = quotes.filter((x) => x.refused);
    const cancels = window.filter((x) => x.type === 'cancel' || x.type === 'cancelByCloid');
    console.log(
      `loopback, exhausted budget, ${WINDOW / 1000} s: ${quotes.length} order/modify requests (${admitted.length} admitted, ` +
        `${refused.length} refused), ${cancels.length} cancel requests`,
    );
    // One slot per 10 s (+ the one at start) over the window.
    assert.ok(admitted.length >= 1 && admitted.length <= 4, `admitted ${admitted.length}`);
    assert.ok(refused.length <= 2, `refused ${refused.length}: no tight loop`);
    assert.ok(quotes.length <= 6, `${quotes.length} order/modify requests in ${WINDOW / 1000} s`);
    for (let i = 1; i < admitted.length; i++) assert.ok(admitted[i].at - admitted[i - 1].at >= 10_000);
    assert.ok(
      status.some((l) => /THROTTLED \(budget used \d+\/\d+: 1 request per 10 s, cancels first\)/.test(l)),
      status.at(-1),
    );
    assert.equal(logs.filter((l) => l.includes('THROTTLED')).length, 1, 'logged once');
    assert.equal(s.restingAfterStop, 0, 'cancels still go through (their own cap)');
    const j = openExistingJournal(journal);
    try {
      const ev = j.history({ type: 'risk', limit: 100 }).map((r) => (r.data as { event?: string }).event);
      assert.ok(ev.includes('throttled'), ev.join(','));
    } finally {
      j.close();
    }
  } finally {
    await proxy.close();
    await server.close();
  }
});
