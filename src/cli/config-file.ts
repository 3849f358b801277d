/**
 * Reading `cjmm backtest --config` / `cjmm hyperopt --config` files: a backtest config (docs/backtest.md), or a
 * `cjmm trade` config with an optional `backtest` section — e.g. the file `cjmm hyperopt-show --export`
 * writes — whose strategy is read as trade would run it (its orderSize, calibration and maxPosition filling the
 * strategy's unset fields). Lives in cli/ because it joins two layers (backtest, trading) that do not import
 * each other.
 */
import { readFileSync } from 'node:fs';
import { BacktestConfigError, type BacktestConfigFile, parseBacktestConfig } from '../backtest/setup.ts';
import { ConfigError, parseTradingConfig, TradingConfigSchema } from '../trading/config.ts';

const TRADING_KEYS = new Set(Object.keys(TradingConfigSchema.shape));

/** A trade config: a nested strategy object next to trade-config fields only, `coin` among them. */
export function isTradingConfig(json: unknown): json is Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const o = json as Record<string, unknown>;
  const keys = Object.keys(o);
  return (
    typeof o.strategy === 'object' &&
    o.strategy !== null &&
    'coin' in o &&
    keys.every((k) => TRADING_KEYS.has(k))
  );
}

export function parseConfigJson(json: unknown, file: string): BacktestConfigFile {
  if (!isTradingConfig(json)) return parseBacktestConfig(json, file);
  let strategy: Record<string, unknown>;
  try {
    strategy = parseTradingConfig(json, file).strategy as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw new BacktestConfigError(e.message);
    throw e;
  }
  return parseBacktestConfig(
    { strategy, ...(json.backtest !== undefined ? { backtest: json.backtest } : {}) },
    file,
  );
}

export function readConfigFile(path: string): BacktestConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BacktestConfigError(`--config ${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BacktestConfigError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfigJson(json, path);
}
