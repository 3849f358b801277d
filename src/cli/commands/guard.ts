/**
 * `cjmm guard`: watch a trader's heartbeat and cancel its orders when it dies (src/trading/guard.ts).
 * `cjmm trade --live` starts one by itself (detached); run it yourself with config `guard: false`, e.g. as
 * its own service. Parsing only.
 */
import type { Command } from 'commander';
import { loadServiceConfig } from '../../service/config.ts';
import { ConfigError } from '../../trading/config.ts';
import { runGuard } from '../../trading/guard.ts';
import { guardReportPath, heartbeatPath } from '../../trading/heartbeat.ts';
import { KeyError, loadAgentKey } from '../../trading/keys.ts';
import { createTradingLogger } from '../../trading/logger.ts';
import { CliError } from '../errors.ts';
import { positiveNumber } from './record.ts';

interface GuardFlags {
  config?: string;
  journal?: string;
  heartbeat?: string;
  keyFile?: string;
  keyEnv?: string;
  grace?: string;
  session?: string;
  keepRunning?: boolean;
  logLevel: string;
}

const HB_SUFFIX = '.heartbeat.json';

export function register(program: Command): void {
  program
    .command('guard')
    .description(
      "watch a live trader's heartbeat and cancel its orders when it stops for longer than the grace (cjmm trade --live starts one itself)",
    )
    .option('--config <file>', 'the trader’s config: its journal (heartbeat next to it), key and grace')
    .option('--journal <path>', 'the trader’s journal (its heartbeat is <journal>.heartbeat.json)')
    .option('--heartbeat <file>', 'the heartbeat file itself (overrides --journal)')
    .option('--key-file <file>', 'the API wallet key file (mode 600), the same key as the trader')
    .option('--key-env <name>', 'environment variable holding the key (default: the config’s account.keyEnv)')
    .option(
      '--grace <s>',
      'cancel after this long without a heartbeat (default: the trader’s deadMansSwitchSec)',
    )
    .option('--session <ms>', 'watch only this session (its start time, as the trader spawns us)')
    .option('--keep-running', 'after a session ends, wait for the next one (run as a service)')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (flags: GuardFlags) => {
      const graceSec =
        flags.grace === undefined ? undefined : positiveNumber(flags.grace, '--grace', 'seconds');
      let session: number | undefined;
      if (flags.session !== undefined) {
        session = Number(flags.session);
        if (!Number.isSafeInteger(session) || session <= 0)
          throw new CliError(`--session must be a session start time in ms; got '${flags.session}'`);
      }
      let journal = flags.journal;
      let account: { keyFile?: string; keyEnv: string } = { keyEnv: 'CJMM_PRIVATE_KEY' };
      if (flags.config !== undefined) {
        try {
          // The service's config file (api, alerts, … sections) is the trader's too.
          const c = loadServiceConfig(flags.config).trading;
          journal ??= c.journal;
          account = c.account;
        } catch (err) {
          if (err instanceof ConfigError) throw new CliError(err.message);
          throw err;
        }
      }
      if (flags.keyFile !== undefined) account = { keyFile: flags.keyFile, keyEnv: account.keyEnv };
      else if (flags.keyEnv !== undefined) account = { keyEnv: flags.keyEnv };
      let hbFile = flags.heartbeat;
      if (hbFile === undefined) {
        if (journal === undefined)
          throw new CliError('give the trader’s --journal (or --config, or --heartbeat <file>)');
        hbFile = heartbeatPath(journal);
      }
      const base = hbFile.endsWith(HB_SUFFIX) ? hbFile.slice(0, -HB_SUFFIX.length) : hbFile;
      let key: ReturnType<typeof loadAgentKey>;
      try {
        key = loadAgentKey(account);
      } catch (err) {
        if (err instanceof KeyError) throw new CliError(err.message);
        throw err;
      }
      const logger = createTradingLogger(flags.logLevel);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const out = await runGuard({
          heartbeatFile: hbFile,
          reportFile: guardReportPath(base),
          key,
          logger,
          session,
          graceSec,
          keepRunning: flags.keepRunning === true,
          signal: ac.signal,
        });
        logger.info({ outcome: out }, 'guard: done');
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'guard failed');
        throw new CliError(`guard: ${(err as Error).message}`, 1);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
