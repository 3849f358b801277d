/**
 * `cjmm serve --config cjmm.json`: recorder + trader + API (+ webhooks, Telegram) in one long-running process,
 * for systemd or docker. Exit codes: 0 clean stop (SIGTERM/SIGINT, --duration, or a stop command over the API
 * or Telegram) with nothing left resting; 1 a runtime failure (exchange unreachable, store error, orders still
 * resting after stop: check the exchange); 2 invalid flags or config (nothing was started).
 */
import type { Command } from 'commander';
import { ServiceError } from '../../service/run.ts';
import { runServe } from '../../service/serve.ts';
import { SessionError } from '../../trading/errors.ts';
import { KeyError, loadAgentKey } from '../../trading/keys.ts';
import { createTradingLogger } from '../../trading/logger.ts';
import { CliError } from '../errors.ts';
import {
  DEFAULT_CONFIG_PATH,
  parseApiPort,
  parseDurationFlag,
  printRun,
  serviceConfigFromFlags,
} from './trade.ts';

interface ServeFlags {
  config?: string;
  apiPort?: string;
  keyFile?: string;
  journal?: string;
  duration?: string;
  live?: boolean;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('the long-running service: recorder + trader + API and dashboard (+ alerts) in one process')
    .option(
      '--config <file>',
      'config (JSON): trading, api, alerts, webhooks, telegram, record',
      DEFAULT_CONFIG_PATH,
    )
    .option('--api-port <n>', 'API port (overrides api.port)')
    .option('--dry-run', 'paper trading (overrides mode)')
    .option('--live', 'live trading (overrides mode; needs the API wallet key)')
    .option('--key-file <file>', 'API wallet private key file (mode 600)')
    .option('--journal <path>', 'SQLite journal (overrides the config)')
    .option('--duration <s>', 'stop after this long (default: until SIGTERM/SIGINT)')
    .action(async (flags: ServeFlags) => {
      const durationMs =
        flags.duration === undefined ? undefined : parseDurationFlag('--duration', flags.duration);
      parseApiPort(flags.apiPort);
      const loaded = serviceConfigFromFlags(
        {
          config: flags.config,
          apiPort: flags.apiPort,
          keyFile: flags.keyFile,
          journal: flags.journal,
          live: flags.live,
          dryRun: flags.dryRun,
        },
        { api: true },
      );
      let key: ReturnType<typeof loadAgentKey> | undefined;
      if (loaded.trading.mode === 'live') {
        try {
          key = loadAgentKey(loaded.trading.account);
        } catch (err) {
          if (err instanceof KeyError) throw new CliError(err.message);
          throw err;
        }
      }
      const logger = createTradingLogger(loaded.trading.logLevel);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const r = await runServe({ config: loaded, logger, signal: ac.signal, durationMs, key });
        printRun(r.summary);
        if (loaded.service.record.enabled)
          console.log(`  recorder: ${r.recorded} events written to ${loaded.service.record.store}`);
        if (r.recordError) throw new CliError(`recorder: ${r.recordError}`, 1);
        if (r.summary.restingAfterStop !== 0) {
          throw new CliError(
            `${r.summary.restingAfterStop} order(s) still resting after stop: check the exchange`,
            1,
          );
        }
      } catch (err) {
        if (err instanceof SessionError || err instanceof ServiceError || err instanceof KeyError) {
          throw new CliError(err.message, 1);
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
