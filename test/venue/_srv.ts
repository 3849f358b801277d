import { startLoopbackServer } from '/work/main/src/venue/loopback/server.ts';
import { steadyMarket } from '/work/main/test/venue/fixtures.ts';
const s = await startLoopbackServer({ events: steadyMarket(60), port: 18330, speed: 1 });
console.log('up'); setTimeout(() => s.close(), 20000);
