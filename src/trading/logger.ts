/**
 * Structured logs (pino) for trading sessions. Any field that could carry key material is censored by path,
 * and the key itself never reaches a log call (keys.ts keeps it inside the viem account).
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { LOG_REDACT_PATHS } from './keys.ts';

export type TradingLogger = Logger;

export function createTradingLogger(level: string, destination?: DestinationStream): TradingLogger {
  const opts = {
    level,
    base: { app: 'cjmm' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(opts, destination) : pino(opts, pino.destination({ dest: 2, sync: true }));
}
