/** Child process of the service bench: the loopback Hyperliquid server replaying the real ETH recording. */
import { readSource } from '../../src/marketdata/source.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ETH } from '../../test/helpers/shared.ts';

const speed = Number(process.argv[2] ?? '20');
const events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
const server = await startLoopbackServer({
  events,
  coins: ['ETH'],
  speed,
  port: 0,
  shiftToNow: true,
  loop: true,
});
process.stdout.write(`${JSON.stringify({ httpUrl: server.httpUrl, wsUrl: server.wsUrl })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
