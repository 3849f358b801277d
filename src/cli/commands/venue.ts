/**
 * `cjmm venue serve`: the loopback Hyperliquid server replaying a recorded data set from the store, with
 * mainnet's account limits on by default (each flag-switchable), hourly funding and the accounts' own fee rates.
 */
import type { Command } from 'commander';
import { checkFees, describeFeeTier, feesForTier, parseFeeTier } from '../../exchange/fees.ts';
import type { MarketEvent } from '../../marketdata/events.ts';
import { readSource } from '../../marketdata/source.ts';
import { parseTimeArg } from '../../marketdata/time.ts';
import { LOOPBACK_DEFAULT_PORT } from '../../venue/hyperliquid/feed.ts';
import { type FundingRow, HYPERLIQUID_BASELINE_FUNDING_RATE } from '../../venue/loopback/funding.ts';
import { readFundingFile, readStoreFunding } from '../../venue/loopback/funding-source.ts';
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
  lifetimeVolume: string;
  requestsUsed: string;
  feeTier?: string;
  makerFee?: string;
  takerFee?: string;
  fundingRate: string;
  funding?: string;
  scheduleCancelGate: boolean;
  requestBudget: boolean;
  legacyNonces?: boolean;
}

/** A finite number within [min, max] (a usage error naming the flag otherwise). */
function numberFlag(raw: string, flag: string, what: string, min: number, max: number): number {
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || x < min || x > max)
    throw new CliError(`${flag} must be ${what}; got '${raw}'`);
  return x;
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
    .option(
      '--lifetime-volume <usd>',
      "every account's lifetime traded volume at start, USD (mainnet's limits)",
      '0',
    )
    .option('--requests-used <n>', 'address-budget requests every account has already used', '0')
    .option(
      '--fee-tier <spec>',
      "every account's Hyperliquid fee tier (e.g. '0', '4,gold', 'mm1'; default the base tier)",
    )
    .option('--maker-fee <fraction>', "every account's maker fee (negative = rebate; overrides --fee-tier)")
    .option('--taker-fee <fraction>', "every account's taker fee (overrides --fee-tier)")
    .option(
      '--funding-rate <hourly>',
      'hourly funding rate where no series applies',
      String(HYPERLIQUID_BASELINE_FUNDING_RATE),
    )
    .option(
      '--funding <file>',
      'funding series: JSON rows as fundingHistory answers them (time, coin, fundingRate, premium)',
    )
    .option('--no-schedule-cancel-gate', 'allow scheduleCancel before $1M traded (mainnet refuses it)')
    .option('--no-request-budget', "switch off mainnet's cumulative address request budget")
    .option(
      '--legacy-nonces',
      "the older nonce rule (100 kept, within T − 2 days … T + 1 day) instead of mainnet's current one",
    )
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
      const lifetimeVolume = numberFlag(
        flags.lifetimeVolume,
        '--lifetime-volume',
        'a volume in USD ≥ 0',
        0,
        1e15,
      );
      const requestsUsed = numberFlag(flags.requestsUsed, '--requests-used', 'a whole number ≥ 0', 0, 1e12);
      if (!Number.isInteger(requestsUsed))
        throw new CliError(`--requests-used must be a whole number ≥ 0; got '${flags.requestsUsed}'`);
      let fees = feesForTier({ tier: 0 });
      let feesFrom = 'base tier';
      if (flags.feeTier !== undefined) {
        try {
          const tier = parseFeeTier(flags.feeTier);
          fees = feesForTier(tier);
          feesFrom = describeFeeTier(tier);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      }
      if (flags.makerFee !== undefined) {
        fees.maker = numberFlag(
          flags.makerFee,
          '--maker-fee',
          'a fraction of notional, e.g. 0.00015 (−0.00001 = rebate)',
          -0.01,
          0.01,
        );
        feesFrom = 'given';
      }
      if (flags.takerFee !== undefined) {
        fees.taker = numberFlag(
          flags.takerFee,
          '--taker-fee',
          'a fraction of notional, e.g. 0.00045',
          0,
          0.01,
        );
        feesFrom = 'given';
      }
      const feeError = checkFees(fees);
      if (feeError) throw new CliError(`--maker-fee/--taker-fee: ${feeError}`);
      const fundingRate = numberFlag(
        flags.fundingRate,
        '--funding-rate',
        'an hourly fraction in (-0.04, 0.04), e.g. 0.0000125',
        -0.0399,
        0.0399,
      );
      const accounts: LoopbackAccount[] = flags.account.map((a) => {
        if (!ADDRESS.test(a))
          throw new CliError(`--account must be a 0x address (40 hex digits); got '${a}'`);
        return { address: a, balance, lifetimeVolume, requestsUsed };
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
      // Funding: a file given with --funding, else the store's funding kind when it has one.
      let funding: FundingRow[] = [];
      let fundingFrom = `the configured rate ${fundingRate}/h`;
      try {
        if (flags.funding) {
          funding = readFundingFile(flags.funding).filter((f) => coins.includes(f.coin));
          fundingFrom = `${funding.length} rows of ${flags.funding} (elsewhere ${fundingRate}/h)`;
        } else {
          funding = await readStoreFunding(flags.store, coins);
          if (funding.length > 0)
            fundingFrom = `${funding.length} rows of the store (elsewhere ${fundingRate}/h)`;
        }
      } catch (err) {
        throw new CliError(`${flags.funding ? '--funding' : '--store'}: ${(err as Error).message}`);
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
        fees,
        funding,
        fundingRate,
        scheduleCancelGate: flags.scheduleCancelGate,
        requestBudget: flags.requestBudget,
        strictNonces: flags.legacyNonces !== true,
      }).catch((err: Error) => {
        throw new CliError(`cannot listen on ${flags.host}:${port} (--host/--port): ${err.message}`);
      });
      const first = new Date(server.replay.now()).toISOString();
      console.log(
        `loopback Hyperliquid server: ${events.length} events of ${coins.join(',')} from ${first} at ${speed}x`,
      );
      const onOff = (x: boolean) => (x ? 'on' : 'off');
      console.log(
        `fees: maker ${fees.maker}, taker ${fees.taker} (${feesFrom}); funding: ${fundingFrom}; mainnet limits: scheduleCancel gate ${onOff(flags.scheduleCancelGate)}, ` +
          `request budget ${onOff(flags.requestBudget)}, nonces ${flags.legacyNonces ? 'legacy' : 'current rule'}`,
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
