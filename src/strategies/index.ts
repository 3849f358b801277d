/**
 * Strategy factory: `createStrategy('cj' | 'fixed' | 'as' | 'glft', config, instrument)`.
 * The config may be raw (a parsed JSON file): it is validated here and errors name the field.
 */

import { defaultBlockMs } from '../calibration/rolling/options.ts';
import type { InstrumentSpec, Strategy } from '../engine/types.ts';
import { AvellanedaStoikovStrategy } from './as.ts';
import { CjStrategy } from './cj.ts';
import {
  parseStrategyConfig,
  type StrategyConfig,
  StrategyConfigError,
  type StrategyName,
} from './config.ts';
import { FixedSpreadStrategy } from './fixed.ts';
import { GlftStrategy } from './glft.ts';
import { type ParamFeed, RollingParamFeed } from './param-feed.ts';

export { AvellanedaStoikovStrategy, asDepths } from './as.ts';
export { CjStrategy } from './cj.ts';
export * from './config.ts';
export { FixedSpreadStrategy } from './fixed.ts';
export { GlftStrategy, glftDepths } from './glft.ts';
export { type ParamFeed, RollingParamFeed } from './param-feed.ts';
export { quotesFromDepths } from './quoting.ts';

export interface CreateStrategyOptions {
  /** Parameter source for calibrated strategies; default a rolling calibrator with the config's window. */
  feed?: ParamFeed;
}

export function createStrategy(
  name: StrategyName,
  config: StrategyConfig | Record<string, unknown> | undefined,
  instrument: InstrumentSpec,
  opts: CreateStrategyOptions = {},
): Strategy {
  const raw = (config ?? {}) as Record<string, unknown>;
  if (raw.strategy !== undefined && raw.strategy !== name) {
    throw new StrategyConfigError([
      `strategy.strategy: the config is for '${String(raw.strategy)}' but strategy '${name}' was asked for`,
    ]);
  }
  const cfg = parseStrategyConfig({ ...raw, strategy: name });
  const feed = () => opts.feed ?? defaultParamFeed(cfg, instrument);
  switch (cfg.strategy) {
    case 'cj':
      return new CjStrategy(cfg, instrument, cfg.calibrate ? feed() : undefined);
    case 'fixed':
      return new FixedSpreadStrategy(cfg, instrument);
    case 'as':
      return new AvellanedaStoikovStrategy(
        cfg,
        instrument,
        cfg.k !== undefined && cfg.sigma !== undefined ? undefined : feed(),
      );
    case 'glft': {
      const all = cfg.A !== undefined && cfg.kappa !== undefined && cfg.sigma !== undefined;
      return new GlftStrategy(cfg, instrument, all ? undefined : feed());
    }
  }
}

/** The rolling calibrator a calibrated strategy gets by default (the config's window, refresh, markout). */
export function defaultParamFeed(cfg: StrategyConfig, instrument: InstrumentSpec): ParamFeed {
  const markoutHorizonMs = cfg.strategy === 'cj' && cfg.markoutMs > 0 ? cfg.markoutMs : undefined;
  return new RollingParamFeed({
    coin: instrument.coin,
    windowMs: 'windowMs' in cfg ? cfg.windowMs : undefined,
    refreshMs: 'refreshMs' in cfg ? cfg.refreshMs : undefined,
    markoutHorizonMs,
    // The model's markout horizon alone (strategies read no other), with the default report's jackknife
    // blocks: the same estimates, without the per-MO and per-refresh work of horizons nobody reads.
    horizons: [],
    blockMs: defaultBlockMs(markoutHorizonMs),
    tick: instrument.tick,
    regimes:
      cfg.strategy === 'cj' && cfg.signal === 'imbalance'
        ? {
            count: cfg.regimes?.count ?? cfg.regimePriors?.params.length ?? 3,
            thresholds: cfg.regimes?.thresholds ?? cfg.regimePriors?.thresholds,
          }
        : undefined,
  });
}

/** Order-manager settings carried by a strategy config (pass to the Engine's `orderManager`). */
export function orderManagerSettings(cfg: StrategyConfig): {
  priceToleranceTicks: number;
  minQuoteLifeMs: number;
} {
  return { priceToleranceTicks: cfg.priceToleranceTicks, minQuoteLifeMs: cfg.minQuoteLifeMs };
}
