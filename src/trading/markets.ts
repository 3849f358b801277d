/**
 * Many coins, one account: the config's `markets: [{coin, strategy, orderSize, maxPosition, ...overrides}]`
 * (the top-level keys are every market's defaults) or `--coins ETH,BTC,SOL`, and the account-level risk
 * (`accountRisk`). Each market becomes a full trading config, validated on its own (errors say
 * `markets.1.orderSize: …`). What one process shares cannot differ between markets: the network, the endpoints,
 * the mode, the journal, the account (one API wallet, one venue connection: its guard, dead-man's switch, sweep
 * period, acknowledgement deadline), the paper equity.
 */
import { z } from 'zod';
import { ConfigError, formatIssues, parseTradingConfig, type TradingConfig } from './config.ts';

/** Keys one process shares: a market may not override them. */
export const SHARED_KEYS = [
  'network',
  'httpUrl',
  'wsUrl',
  'mode',
  'journal',
  'account',
  'paperEquity',
  'journalRetentionDays',
  'logLevel',
  'statusIntervalSec',
  'deadMansSwitchSec',
  'reconcileIntervalSec',
  'guard',
  'cloidPrefix',
  'startupCleanup',
  'ackTimeoutMs',
] as const;

export const AccountRiskSchema = z
  .strictObject({
    /** Largest Σ |position| × mid over all markets, USD; beyond it every market only reduces. 0 = off. */
    maxNotional: z.number({ error: 'must be a number (USD)' }).min(0, 'must be >= 0 (0 = off)').default(0),
    /** Account kill switch: every market halts when the account's equity falls this fraction below its peak. */
    maxDrawdown: z
      .number({ error: 'must be a number between 0 and 1' })
      .gt(0, 'must be between 0 and 1')
      .lt(1, 'must be between 0 and 1')
      .default(0.05),
    /** Largest margin used / account value (live: clearinghouseState; paper: Σ notional / max leverage). */
    maxMarginUse: z
      .number({ error: 'must be a number between 0 and 1' })
      .gt(0, 'must be between 0 and 1')
      .max(1, 'must be between 0 and 1')
      .default(0.5),
  })
  .prefault({});
export type AccountRiskConfig = z.infer<typeof AccountRiskSchema>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A market's raw config: the defaults with the market's keys on top. Plain objects (risk, calibration, the
 * strategy section when it names the same strategy or none) are merged one level deep; anything else replaces.
 */
export function mergeMarket(defaults: Obj, market: Obj): Obj {
  const out: Obj = { ...defaults };
  for (const [k, v] of Object.entries(market)) {
    const d = defaults[k];
    if (isObj(v) && isObj(d) && (k !== 'strategy' || v.strategy === undefined || v.strategy === d.strategy)) {
      out[k] = { ...d, ...v };
    } else {
      out[k] = v;
    }
  }
  return out;
}

export interface MarketsResult {
  markets: TradingConfig[];
  accountRisk: AccountRiskConfig;
}

/**
 * Every market's validated config. `raw` is the whole trading part of the file (overrides applied), `coins` the
 * `--coins` list (selects those coins: their `markets` entries if any, else the defaults).
 */
export function parseMarkets(raw: Obj, coins?: string[], source = ''): MarketsResult {
  const { markets: rawMarkets, accountRisk: rawRisk, ...defaults } = raw;
  const issues: string[] = [];
  const risk = AccountRiskSchema.safeParse(rawRisk ?? {});
  if (!risk.success) issues.push(...formatIssues(risk.error).map((m) => `accountRisk.${m}`));
  let entries: { obj: Obj; label: string }[] = [];
  if (rawMarkets !== undefined) {
    if (!Array.isArray(rawMarkets) || rawMarkets.length === 0) {
      issues.push('markets: must be a non-empty array of {coin, ...overrides}');
    } else {
      rawMarkets.forEach((m, i) => {
        if (!isObj(m) || typeof m.coin !== 'string') {
          issues.push(`markets.${i}.coin: is required (a coin name such as ETH)`);
          return;
        }
        for (const k of SHARED_KEYS) {
          if (k in m) issues.push(`markets.${i}.${k}: one per process: set it at the top level`);
        }
        entries.push({ obj: m, label: `markets.${i}.` });
      });
      const seen = new Set<string>();
      for (const e of entries) {
        const c = e.obj.coin as string;
        if (seen.has(c)) issues.push(`markets: ${c} is listed twice`);
        seen.add(c);
      }
    }
  }
  if (coins !== undefined) {
    entries = coins.map(
      (c) => entries.find((e) => e.obj.coin === c) ?? { obj: { coin: c }, label: `--coins ${c}: ` },
    );
  }
  if (entries.length === 0) entries = [{ obj: {}, label: '' }];
  const markets: TradingConfig[] = [];
  for (const e of entries) {
    try {
      markets.push(parseTradingConfig(mergeMarket(defaults, e.obj), ''));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues.map((m) => `${e.label}${m}`));
    }
  }
  if (issues.length > 0 || !risk.success) throw new ConfigError(issues, source);
  return { markets, accountRisk: risk.data };
}
