import { readSource } from '../../src/marketdata/source.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { parseTradingConfig } from '../../src/trading/config.ts';
import { runTradingSession } from '../../src/trading/session.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { SEED_ETH } from '../helpers/shared.ts';
const t0 = Date.now();
const src = await readSource(SEED_ETH, { coin: 'ETH' });
console.log('read', src.events.length, 'events in', Date.now() - t0, 'ms');
const server = await startLoopbackServer({ events: src.events, coins: ['ETH'], speed: 20, port: 0, openAccounts: true });
const cfg = parseTradingConfig({ coin: 'ETH', orderSize: 0.01, network: 'loopback', httpUrl: server.httpUrl, wsUrl: server.wsUrl, journal: '/tmp/f/smoke.sqlite', statusIntervalSec: 2, strategy: { strategy: process.argv[2] ?? 'fixed', halfSpreadTicks: 1 }, mode: (process.argv[3] ?? 'dry-run') });
const logger = createTradingLogger('info');
let key;
if (cfg.mode === 'live') { const { generatePrivateKey } = await import('viem/accounts'); const { agentKeyFromHex } = await import('../../src/trading/keys.ts'); key = agentKeyFromHex(generatePrivateKey()); }
const summary = await runTradingSession({ config: cfg, logger, durationMs: 8000, key });
console.log(summary);
await server.close();
