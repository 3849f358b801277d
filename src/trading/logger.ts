/**
 * Structured logs (pino) for trading sessions (stderr; status lines go to stdout). Any field that could carry key material is censored by path,
 * and the key itself never reaches a log call (keys.ts keeps it inside the viem account).
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { logDestination } from '../util/log.ts';
import { LOG_REDACT_PATHS } from './keys.ts';

export type TradingLogger = Logger;

export function createTradingLogger(level: string, destination?: DestinationStream): TradingLogger {
  const opts = {
    level,
    base: { app: 'cjmm' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // stderr: pretty on a terminal, JSON lines when piped or with --log-json (src/util/log.ts).
  return pino(opts, destination ?? logDestination(2));
}
