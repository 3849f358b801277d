#!/usr/bin/env node
/**
 * The `cjmm` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together, and makes every usage error (unknown option,
 * missing or bad value, unknown command) exit with code 2 and the command's usage line.
 */
import { Command, CommanderError } from 'commander';
import { setLogFormat } from '../util/log.ts';
import { CliError, usageLine } from './errors.ts';

const program = new Command();
program
  .name('cjmm')
  .description('Cartea–Jaimungal market maker for Hyperliquid perpetuals')
  .version('0.1.0')
  .option('--log-json', 'logs as JSON lines even on a terminal (they are JSON whenever stderr is not a TTY)')
  .exitOverride();

// One line per command module (keep sorted).
const modules = await Promise.all([
  // commands:begin
  import('./commands/backtest.ts'),
  import('./commands/calibrate.ts'),
  import('./commands/data.ts'),
  import('./commands/demo.ts'),
  import('./commands/guard.ts'),
  import('./commands/hyperopt.ts'),
  import('./commands/quote.ts'),
  import('./commands/record.ts'),
  import('./commands/scan.ts'),
  import('./commands/serve.ts'),
  import('./commands/status.ts'),
  import('./commands/trade.ts'),
  import('./commands/venue.ts'),
  import('./commands/worker.ts'),
  // commands:end
]);
for (const m of modules) (m as { register: (p: Command) => void }).register(program);

// Commander prints its own error line ("error: unknown option '--x'"); the usage line of the command that
// failed follows it. Errors thrown by an action (CliError) get the usage line of the command that ran.
const withUsage = (cmd: Command) => {
  cmd.showHelpAfterError(usageLine(cmd));
  for (const c of cmd.commands) withUsage(c);
};
withUsage(program);
let active: Command = program;
program.hook('preAction', (_self, actionCommand) => {
  active = actionCommand;
  if (program.opts<{ logJson?: boolean }>().logJson) setLogFormat('json');
});

/** Commander's "errors" that are not usage errors: help and version were asked for. */
const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.version']);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = NOT_ERRORS.has(err.code) ? 0 : 2;
  } else if (err instanceof CliError) {
    console.error(`cjmm: ${err.message}`);
    if (err.exitCode === 2) console.error(usageLine(active));
    process.exitCode = err.exitCode;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
}
