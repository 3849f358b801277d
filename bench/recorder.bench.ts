/**
 * Feed and loopback-server figures (parse+store throughput is in marketdata.bench.ts):
 * - live-feed throughput: the seed ETH recording replayed by the loopback server as fast as it goes, through
 *   the WebSocket, @nktkas/hyperliquid's transport and our feed (parse, de-duplication) — messages/s;
 * - /exchange order + cancel round trip through @nktkas/hyperliquid's ExchangeClient (sign, HTTP, signature recovery,
 *   matching, answer) — median latency.
 */
import { ExchangeClient, HttpTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../src/marketdata/events.ts';
import { readSource } from '../src/marketdata/source.ts';
import { createMarketFeed } from '../src/venue/hyperliquid/feed.ts';
import { startLoopbackServer } from '../src/venue/loopback/server.ts';
import { hasShared, SEED_ETH } from '../test/helpers/shared.ts';
import { fmtUs, report, timeItAsync } from './timing.ts';

if (!hasShared) {
  console.log('../shared/data not found: skipping recorder benchmarks');
  process.exit(0);
}

const { events } = await readSource(SEED_ETH, { coin: 'ETH' });

async function feedThroughput(evs: MarketEvent[]): Promise<{ msgsPerSec: number; events: number }> {
  const srv = await startLoopbackServer({ events: evs, coins: ['ETH'], speed: 100_000, autoStart: false });
  let received = 0;
  let messages = 0;
  const feed = createMarketFeed({
    wsUrl: srv.wsUrl,
    coins: ['ETH'],
    channels: ['l2Book', 'trades', 'bbo'],
    staleAfterMs: 60_000,
    onEvents: (e) => {
      received += e.length;
    },
    onGap: () => {},
  });
  await feed.start();
  const t0 = performance.now();
  srv.replay.start();
  const want = evs.length;
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 50_000;
    const tick = () => {
      if (received >= want) return resolve();
      if (Date.now() > deadline) return reject(new Error(`feed received ${received} of ${want} events`));
      setTimeout(tick, 2);
    };
    tick();
  });
  const secs = (performance.now() - t0) / 1000;
  const st = feed.stats();
  messages = st.channels.l2Book.messages + st.channels.trades.messages + st.channels.bbo.messages;
  await feed.close();
  await srv.close();
  return { msgsPerSec: messages / secs, events: received };
}

const tp = await feedThroughput(events);
report(
  `feed: loopback WS → parse → events (seed ETH, ${tp.events} events)`,
  `${Math.round(tp.msgsPerSec).toLocaleString('en-US')} msg/s`,
  '≥ 5,000 msg/s',
  tp.msgsPerSec >= 5000,
);

const wallet = privateKeyToAccount(generatePrivateKey());
const srv = await startLoopbackServer({
  events,
  coins: ['ETH'],
  autoStart: false,
  accounts: [{ address: wallet.address }],
});
srv.replay.advanceTo(events[200].exTime);
const ex = new ExchangeClient({ transport: new HttpTransport({ apiUrl: srv.httpUrl }), wallet });
let i = 0;
const rt = await timeItAsync(
  async () => {
    // Far from the market so it rests; cancelled by oid right away to keep the book small.
    const r = await ex.order({
      orders: [
        { a: 1, b: true, p: String(3000 + (i++ % 50)), s: '0.01', r: false, t: { limit: { tif: 'Alo' } } },
      ],
      grouping: 'na',
    });
    const st = r.response.data.statuses[0];
    if (typeof st === 'object' && 'resting' in st)
      await ex.cancel({ cancels: [{ a: 1, o: st.resting.oid }] });
  },
  { minRuns: 100, warmup: 10 },
);
// Target: well under the real exchange's ~100 ms; each request costs ≈ 2.3 ms of signing (client) and
// ≈ 3.4 ms of signature recovery (server) in pure-JS secp256k1 on this machine.
report(
  'order + cancel round trip via ExchangeClient (2 signed requests)',
  fmtUs(rt.median),
  '≤ 25 ms',
  rt.median <= 25_000,
);
await srv.close();
