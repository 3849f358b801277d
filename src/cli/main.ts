#!/usr/bin/env node
/**
 * The `cjmm` command line. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together.
 */
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.ts';

const program = new Command();
program
  .name('cjmm')
  .description('Cartea–Jaimungal market maker for Hyperliquid perpetuals')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

// One line per command module (keep sorted).
const modules = await Promise.all([
  // commands:begin
  import('./commands/backtest.ts'),
  import('./commands/calibrate.ts'),
  import('./commands/data.ts'),
  import('./commands/demo.ts'),
  import('./commands/quote.ts'),
  import('./commands/record.ts'),
  import('./commands/scan.ts'),
  import('./commands/trade.ts'),
  import('./commands/venue.ts'),
  // commands:end
]);
for (const m of modules) (m as { register: (p: Command) => void }).register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are "errors" with exit code 0 in commander's exitOverride mode.
    process.exitCode = err.exitCode;
  } else if (err instanceof CliError) {
    console.error(`cjmm: ${err.message}`);
    process.exitCode = err.exitCode;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
}
