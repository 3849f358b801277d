/**
 * Where and how the long-running commands (trade, demo, record, guard, venue serve) write their pino logs:
 * human-readable lines (pino-pretty) when stderr is a terminal, JSON lines otherwise (piped, a file, a
 * service manager) or when asked with `--log-json`. One switch for the whole process, set by the CLI.
 */
import { isatty } from 'node:tty';
import { type DestinationStream, pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'auto' | 'json' | 'pretty';

let format: LogFormat = 'auto';

/** Set once by the CLI (`--log-json` → 'json'); 'auto' = pretty on a TTY, JSON otherwise. */
export function setLogFormat(f: LogFormat): void {
  format = f;
}

/** Would logs written to this file descriptor now be pretty? */
export function prettyLogs(fd = 2): boolean {
  if (format === 'json') return false;
  if (format === 'pretty') return true;
  return isatty(fd);
}

/**
 * The destination for a logger on fd 2 (stderr), synchronous so nothing is lost on exit: pino-pretty on a
 * terminal (colours, local time, fields on their own lines), raw JSON lines otherwise.
 */
export function logDestination(fd = 2): DestinationStream {
  if (!prettyLogs(fd)) return pino.destination({ dest: fd, sync: true });
  return pretty({
    destination: fd,
    sync: true,
    colorize: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,app,name',
    singleLine: true,
  });
}
