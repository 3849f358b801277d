/**
 * The markets of `cjmm demo --coins`: each coin's events from the recording where it has some, otherwise a
 * synthetic world (src/model/market-sim.ts: Poisson market orders with reach e^{−κδ}, jumps ε, a diffusive mid)
 * scaled to the coin's price and tick, starting at the recording's first instant so every market runs on one
 * clock. The synthetic world's true parameters are the strategy's priors for that market (a demo of quoting, not
 * of estimation) and its order size is about 35 USD.
 */
import { MIN_NOTIONAL_USD, priceTick } from '../exchange/order-rules.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import { readSource } from '../marketdata/source.ts';
import { simulateMarket } from '../model/market-sim.ts';
import { defaultAssets } from '../venue/loopback/server.ts';

/** Typical prices of coins without data (USD); others start at 100. */
const TYPICAL_MID: Record<string, number> = {
  BTC: 95_000,
  ETH: 3_300,
  SOL: 180,
  ATOM: 6,
  MATIC: 0.5,
  DYDX: 1.2,
};

export interface DemoMarket {
  coin: string;
  source: 'recording' | 'synthetic';
  events: number;
  /** Config overrides for this market (`markets` entry). */
  overrides: Record<string, unknown>;
}

export interface DemoWorld {
  events: MarketEvent[];
  markets: DemoMarket[];
  startTime: number;
  endTime: number;
}

function seedOf(coin: string): number {
  let h = 2166136261;
  for (let i = 0; i < coin.length; i++) h = Math.imul(h ^ coin.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export async function demoWorld(
  dataPath: string | undefined,
  coins: string[],
  opts: { durationSec: number; strategy: string },
): Promise<DemoWorld> {
  const real = new Map<string, MarketEvent[]>();
  if (dataPath) {
    for (const coin of coins) {
      const src = await readSource(dataPath, { coin }).catch(() => undefined);
      if (src && src.events.length > 0) real.set(coin, src.events);
    }
  }
  const all = [...real.values()];
  const startTime = all.length > 0 ? Math.min(...all.map((e) => e[0].exTime)) : Date.UTC(2025, 0, 1);
  const endTime =
    all.length > 0
      ? Math.max(...all.map((e) => e[e.length - 1].exTime))
      : startTime + opts.durationSec * 1000;
  const assets = defaultAssets(coins);
  const events: MarketEvent[] = [];
  const markets: DemoMarket[] = [];
  for (const coin of coins) {
    const rec = real.get(coin);
    if (rec) {
      events.push(...rec);
      markets.push({ coin, source: 'recording', events: rec.length, overrides: {} });
      continue;
    }
    const szDecimals = assets.find((a) => a.coin === coin)?.szDecimals ?? 2;
    const mid0 = TYPICAL_MID[coin] ?? 100;
    const tick = priceTick(mid0, szDecimals);
    // ETH's calibrated world in ticks (κ·tick ≈ 0.85, ε ≈ 1.3 ticks), at this coin's tick.
    const truth = {
      lambdaPlus: 1.6,
      lambdaMinus: 1.2,
      kappaPlus: 0.85 / tick,
      kappaMinus: 0.87 / tick,
      epsilonPlus: 1.2 * tick,
      epsilonMinus: 1.4 * tick,
    };
    const sim = simulateMarket({
      seed: seedOf(coin),
      durationSec: Math.max(60, (endTime - startTime) / 1000),
      tick,
      mid0,
      ...truth,
      sigma: 2 * tick,
      rxLatencyMs: 40,
      startTime,
      coin,
      withBbo: true,
    });
    // Trade ids are unique across coins on the exchange (and the journal keys fills by them): give each
    // synthetic world its own range, far from the recordings' and the simulated exchange's.
    const tidBase = (coins.indexOf(coin) + 1) * 1e13;
    for (const e of sim.events) if (e.kind === 'trade') e.tid += tidBase;
    events.push(...sim.events);
    const lot = 10 ** -szDecimals;
    const orderSize = Number((Math.ceil(35 / mid0 / lot) * lot).toFixed(szDecimals));
    markets.push({
      coin,
      source: 'synthetic',
      events: sim.events.length,
      overrides: {
        coin,
        orderSize:
          orderSize * mid0 < MIN_NOTIONAL_USD ? Number((orderSize * 2).toFixed(szDecimals)) : orderSize,
        ...(opts.strategy === 'cj' ? { strategy: { priors: truth } } : {}),
      },
    });
  }
  events.sort((a, b) => a.exTime - b.exTime);
  return { events, markets, startTime, endTime };
}
