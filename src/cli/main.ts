#!/usr/bin/env node
/**
 * The `cjmm` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together, and makes every usage error (unknown option,
 * missing or bad value, unknown command) exit with code 2 and the command's usage line.
 */
import { Command, CommanderError } from 'commander';
import { enableCompileCache } from '../util/compile-cache.ts';
import { setLogFormat } from '../util/log.ts';
import { CliError, usageLine } from './errors.ts';

// Before the command modules load (below): their compiled code comes from the cache after the first run.
enableCompileCache();

const program = new Command();
program
  .name('cjmm')
  .description('Cartea–Jaimungal market maker for Hyperliquid perpetuals')
  .version('0.1.0')
  .option('--log-json', 'logs as JSON lines even on a terminal (they are JSON whenever stderr is not a TTY)')
  .exitOverride();

// One line per command module (keep sorted): the top-level command names it registers, and its loader.
// Only the module of the command being run is imported (the modules pull in DuckDB, fastify, the engine…,
// so importing all of them cost ~1 s and ~200 MB per invocation); `cjmm --help`, an unknown command or no
// command at all loads every one, so the help and commander's suggestions stay complete.
type CommandModule = { register: (p: Command) => void };
const COMMANDS: [names: string[], load: () => Promise<unknown>][] = [
  // commands:begin
  [['backtest'], () => import('./commands/backtest.ts')],
  [['calibrate'], () => import('./commands/calibrate.ts')],
  [['data'], () => import('./commands/data.ts')],
  [['demo'], () => import('./commands/demo.ts')],
  [['guard'], () => import('./commands/guard.ts')],
  [['hyperopt', 'hyperopt-show', 'hyperopt-list'], () => import('./commands/hyperopt.ts')],
  [['quote'], () => import('./commands/quote.ts')],
  [['record'], () => import('./commands/record.ts')],
  [['scan'], () => import('./commands/scan.ts')],
  [['serve'], () => import('./commands/serve.ts')],
  [['status'], () => import('./commands/status.ts')],
  [['trade'], () => import('./commands/trade.ts')],
  [['venue'], () => import('./commands/venue.ts')],
  [['worker'], () => import('./commands/worker.ts')],
  // commands:end
];

/** The command word of argv: the first argument that is not a global option (`help <cmd>` names <cmd>). */
function commandWord(argv: string[]): string | undefined {
  const args = argv.slice(2).filter((a) => !a.startsWith('-'));
  return args[0] === 'help' ? args[1] : args[0];
}

const word = commandWord(process.argv);
const wanted = COMMANDS.filter(([names]) => word !== undefined && names.includes(word));
const modules = await Promise.all((wanted.length > 0 ? wanted : COMMANDS).map(([, load]) => load()));
for (const m of modules) (m as CommandModule).register(program);

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
