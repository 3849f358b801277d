import type { Command } from 'commander';

/**
 * An error meant for the user: printed as one line (no stack), with a non-zero exit code. Exit code 2 is a
 * usage error (bad flag, bad value, invalid config): the command's usage line is printed after it.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** "usage: cjmm trade history [options] (cjmm trade history --help for details)". */
export function usageLine(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  const full = names.join(' ');
  return `usage: ${full} ${cmd.usage()} (${full} --help for details)`;
}
