/** `cjmm venue serve`: the loopback Hyperliquid server replaying a recorded data set from the store. */
import type { Command } from 'commander';
import type { MarketEvent } from '../../marketdata/events.ts';
import { readSource } from '../../marketdata/source.ts';
import { parseTimeArg } from '../../marketdata/time.ts';
import { LOOPBACK_DEFAULT_PORT } from '../../venue/hyperliquid/feed.ts';
import { type LoopbackAccount, startLoopbackServer } from '../../venue/loopback/server.ts';
import { CliError } from '../errors.ts';
import { parseCoins, positiveNumber } from './record.ts';

interface ServeFlags {
  store: string;
  coin: string;
  speed: string;
  port: string;
  host: string;
  from?: string;
  to?: string;
  loop?: boolean;
  shiftToNow?: boolean;
  controlToken?: string;
  account: string[];
  agent: string[];
  openAccounts?: boolean;
  balance: string;
}

function parseTime(raw: string, flag: string): number {
  try {
    return parseTimeArg(raw, flag);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  const venue = program.command('venue').description('the loopback Hyperliquid server');
  venue
    .command('serve')
    .description('serve the Hyperliquid API on 127.0.0.1, replaying recorded data from the store')
    .requiredOption('--store <dir>', 'store folder with the recorded data')
    .requiredOption('--coin <coin>', 'coin(s) to replay, comma-separated (e.g. ETH)')
    .option('--speed <x>', 'replay speed multiplier (1 = real time)', '1')
    .option('--port <n>', 'TCP port (0 = any free port)', String(LOOPBACK_DEFAULT_PORT))
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--from <time>', 'start the replay at this exchange time (ISO or ms)')
    .option('--to <time>', 'replay only data before this exchange time (ISO or ms)')
    .option('--loop', 'restart the data set when it ends (times and trade ids shifted forward)')
    .option('--shift-to-now', 'shift recorded times so the replay starts at the current time')
    .option('--control-token <token>', 'enable POST /_control (fault injection) with this bearer token')
    .option('--account <address>', 'an account allowed to trade (repeatable)', collect, [])
    .option('--agent <agent=master>', 'an API wallet trading for a master account (repeatable)', collect, [])
    .option('--open-accounts', 'accept any signer as a funded account')
    .option('--balance <usd>', 'starting balance of every account, USD', '100000')
    .action(async (flags: ServeFlags) => {
      const coins = parseCoins(flags.coin, '--coin');
      const speed = positiveNumber(flags.speed, '--speed', 'times real time');
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new CliError(`--port must be an integer in [0, 65535]; got '${flags.port}'`);
      }
      const from = flags.from === undefined ? undefined : parseTime(flags.from, '--from');
      const to = flags.to === undefined ? undefined : parseTime(flags.to, '--to');
      const balance = positiveNumber(flags.balance, '--balance', 'USD');
      const accounts: LoopbackAccount[] = flags.account.map((a) => {
        if (!ADDRESS.test(a))
          throw new CliError(`--account must be a 0x address (40 hex digits); got '${a}'`);
        return { address: a, balance };
      });
      const agents: Record<string, string> = {};
      for (const pair of flags.agent) {
        const [agent, master] = pair.split('=');
        if (!ADDRESS.test(agent ?? '') || !ADDRESS.test(master ?? '')) {
          throw new CliError(`--agent must be <agent address>=<master address>; got '${pair}'`);
        }
        agents[agent] = master;
      }
      // Any source the data layer reads (a store, or a seed-collector folder) replays the same way.
      const events: MarketEvent[] = [];
      for (const coin of coins) {
        let r: Awaited<ReturnType<typeof readSource>>;
        try {
          r = await readSource(flags.store, { coin, to });
        } catch (err) {
          throw new CliError(`--store ${flags.store}: ${(err as Error).message}`);
        }
        if (r.events.length === 0) throw new CliError(`--coin ${coin}: no data in ${flags.store}`);
        for (const e of r.events) events.push(e);
      }
      const server = await startLoopbackServer({
        events,
        coins,
        speed,
        port,
        host: flags.host,
        startAt: from,
        loop: flags.loop === true,
        shiftToNow: flags.shiftToNow === true,
        accounts,
        agents,
        openAccounts: flags.openAccounts === true,
        initialBalance: balance,
        controlToken: flags.controlToken,
      }).catch((err: Error) => {
        throw new CliError(`cannot listen on ${flags.host}:${port} (--host/--port): ${err.message}`);
      });
      const first = new Date(server.replay.now()).toISOString();
      console.log(
        `loopback Hyperliquid server: ${events.length} events of ${coins.join(',')} from ${first} at ${speed}x`,
      );
      console.log(`http ${server.httpUrl}`);
      console.log(`ws   ${server.wsUrl}`);
      if (flags.controlToken)
        console.log(`control POST ${server.httpUrl}/_control (Authorization: Bearer <token>)`);
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      await server.close();
    });
}
