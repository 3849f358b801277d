/**
 * The `cjmm trade` configuration: one JSON file validated with zod before anything starts (no connection, no
 * journal, no key read). Every error names the field (`risk.maxDrawdown: must be between 0 and 1`).
 * Defaults reproduce the seed system's settings: 15 s order timeout, 30 min / 15 s calibration, 5 % drawdown.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FeeConfigSchema } from '../exchange/fees.ts';
import { StrategyConfigSchema } from '../strategies/config.ts';

export const MAINNET_HTTP_URL = 'https://api.hyperliquid.xyz';
export const MAINNET_WS_URL = 'wss://api.hyperliquid.xyz/ws';
export const TESTNET_HTTP_URL = 'https://api.hyperliquid-testnet.xyz';
export const TESTNET_WS_URL = 'wss://api.hyperliquid-testnet.xyz/ws';

/** zod's type error, with "is required" when the field is missing. */
const typeError = (expected: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `is required (${expected})` : `must be ${expected}`;
const positive = (what: string) =>
  z.number({ error: typeError(`a number, ${what}`) }).positive('must be > 0');
const posInt = (what: string) =>
  z
    .number({ error: typeError(`a number, ${what}`) })
    .int('must be an integer')
    .positive('must be > 0');
const url = (schemes: string[]) =>
  z.string({ error: 'must be a URL string' }).refine(
    (s) => {
      try {
        return schemes.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    `must be a ${schemes.join(' or ')} URL`,
  );

export const RiskConfigSchema = z.strictObject({
  /** Fraction of the starting equity; once P&L falls this far below its peak, quoting halts. */
  maxDrawdown: z
    .number({ error: 'must be a number between 0 and 1' })
    .gt(0, 'must be between 0 and 1')
    .lt(1, 'must be between 0 and 1')
    .default(0.05),
  /** Largest |position| × mid in USD; 0 disables. */
  maxNotional: z.number({ error: 'must be a number (USD)' }).nonnegative('must be >= 0').default(0),
  /** The book is stale (quotes pulled) when no book update arrived for this long. */
  staleMs: posInt('ms').default(5000),
  /** Order actions per second the session may send (token bucket). */
  maxOrdersPerSecond: positive('actions/s').default(10),
});

export const AccountConfigSchema = z
  .strictObject({
    /** The master (trading) account; the key is an API (agent) wallet approved by it. */
    masterAddress: z
      .string({ error: 'must be a 0x-prefixed 40-hex-digit address' })
      .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 40-hex-digit address')
      .refine((a) => !/^0x0{40}$/.test(a), 'must be your master account address, not the zero address')
      .optional(),
    /** Environment variable holding the agent private key. */
    keyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .default('CJMM_PRIVATE_KEY'),
    /** File holding the agent private key (mode 600); takes precedence over keyEnv. */
    keyFile: z.string().min(1, 'must be a path').optional(),
  })
  .prefault({});

export const TradingConfigSchema = z
  .strictObject({
    /** mainnet / testnet pick Hyperliquid's URLs; loopback needs httpUrl and wsUrl. */
    network: z
      .enum(['mainnet', 'testnet', 'loopback'], { error: 'must be mainnet, testnet or loopback' })
      .default('mainnet'),
    httpUrl: url(['http:', 'https:']).optional(),
    wsUrl: url(['ws:', 'wss:']).optional(),
    coin: z
      .string({ error: typeError('a coin name such as ETH') })
      .regex(/^[A-Za-z0-9:_-]{1,20}$/, 'must be a coin name such as ETH'),
    mode: z.enum(['dry-run', 'live'], { error: 'must be dry-run or live' }).default('dry-run'),
    /** The strategy section (src/strategies/config.ts); orderSize, calibration and maxPosition fill its gaps. */
    strategy: StrategyConfigSchema.prefault({ strategy: 'cj' }),
    /** Size of each quote in coin units; also the model's lot. */
    orderSize: positive('coin units'),
    /** Largest |inventory| in lots (orderSize units), counting orders in flight. */
    maxPosition: posInt('lots').default(5),
    /** Quotes resting longer than this are refreshed (the seed's 15 s unfilled timeout). */
    orderTimeoutMs: posInt('ms').default(15_000),
    calibration: z
      .strictObject({
        windowSec: posInt('s').default(1800),
        refreshSec: posInt('s').default(15),
      })
      .prefault({}),
    risk: RiskConfigSchema.prefault({}),
    /**
     * Your fees: Hyperliquid tier { tier, makerRebate, staking } and/or explicit { maker, taker } (default the
     * base tier). cj prices the maker fee into its depths; paper mode charges them.
     */
    fees: FeeConfigSchema.optional(),
    account: AccountConfigSchema,
    /** Starting equity for paper mode (USD); live mode reads the account value from the exchange. */
    paperEquity: positive('USD').default(10_000),
    journal: z.string().min(1, 'must be a path').default('./.cjmm/journal.sqlite'),
    statusIntervalSec: positive('s').default(10),
    /** scheduleCancel dead-man's switch horizon; refreshed every third of it. 0 disables. */
    deadMansSwitchSec: z.number().int('must be an integer').min(0).default(60),
    /** Period of the REST sweep of open orders and position (live); each sweep also recovers missed fills. */
    reconcileIntervalSec: positive('s').default(10),
    /**
     * Deadline of each place/modify/cancel request (live): when it passes without an answer, the orders are
     * settled from the exchange's orderStatus.
     */
    ackTimeoutMs: z
      .number({ error: typeError('a number, ms') })
      .int('must be an integer')
      .min(500, 'must be at least 500 (ms)')
      .max(60_000, 'must be at most 60000 (ms)')
      .default(5000),
    /**
     * Journal retention: housekeeping rows (acks, rejects, cancels, parameter sets, status rows) older than this
     * many days are pruned while trading; orders, fills, funding and adjustments are never deleted. 0 keeps all.
     */
    journalRetentionDays: z
      .number({ error: typeError('a number of days') })
      .nonnegative('must be >= 0')
      .default(0),
    /** Paper trading settings. */
    paper: z
      .strictObject({
        /**
         * Hourly funding rate (fraction of notional, positive = longs pay) charged on the paper position at each
         * hour; default: the rate the venue reports for that hour (fundingHistory).
         */
        fundingRate: z
          .number({ error: 'must be an hourly rate as a fraction, e.g. 0.0000125' })
          .gt(-0.04, 'must be an hourly fraction between -0.04 and 0.04')
          .lt(0.04, 'must be an hourly fraction between -0.04 and 0.04')
          .optional(),
      })
      .prefault({}),
    /**
     * Live: start `cjmm guard` as a detached process that cancels this trader's orders when its heartbeat stops
     * for longer than deadMansSwitchSec. false: run the guard yourself (another host, its own service).
     */
    guard: z.boolean({ error: 'must be true or false' }).default(true),
    /**
     * This trader's cloid prefix, '0x' + 8 hex digits: its orders on a shared account are the ones whose cloid
     * starts with it. Default: derived from the coin and the journal path (stable across restarts).
     */
    cloidPrefix: z
      .string({ error: 'must be 0x + 8 hex digits' })
      .regex(/^0x[0-9a-fA-F]{8}$/, 'must be 0x + 8 hex digits, e.g. 0x00c0ffee')
      .transform((x) => x.toLowerCase())
      .optional(),
    /** Live start-up clean-up: cancel this trader's resting orders ('own') or every order of the account ('all'). */
    startupCleanup: z.enum(['own', 'all'], { error: "must be 'own' or 'all'" }).default('own'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * The backtest settings the strategy was tested with (`cjmm backtest --config` / `hyperopt-show --export`
     * read them; fees, latency, queue, lot). Trade does not use them; cjmm backtest validates them.
     */
    backtest: z
      .record(z.string(), z.unknown(), { error: 'must be an object (the backtest settings)' })
      .optional(),
  })
  .superRefine((c, ctx) => {
    if (c.network === 'loopback' && (!c.httpUrl || !c.wsUrl)) {
      ctx.addIssue({
        code: 'custom',
        path: ['httpUrl'],
        message:
          'network loopback needs both httpUrl and wsUrl (e.g. from `cjmm demo` or the loopback server)',
      });
    }
    if ((c.httpUrl === undefined) !== (c.wsUrl === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.httpUrl ? 'wsUrl' : 'httpUrl'],
        message: 'give both httpUrl and wsUrl, or neither',
      });
    }
    if (c.mode === 'live' && !c.account.masterAddress) {
      ctx.addIssue({
        code: 'custom',
        path: ['account', 'masterAddress'],
        message:
          'is required for live trading: the account your API wallet trades for (its orders, fills, position)',
      });
    }
    if (c.deadMansSwitchSec > 0 && c.deadMansSwitchSec < 5) {
      ctx.addIssue({
        code: 'custom',
        path: ['deadMansSwitchSec'],
        message: 'must be 0 (off) or at least 5 (Hyperliquid requires the cancel time ≥ 5 s ahead)',
      });
    }
  });

export type TradingConfig = z.infer<typeof TradingConfigSchema>;
export type TradingConfigInput = z.input<typeof TradingConfigSchema>;

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[], source: string) {
    super(`invalid config${source ? ` (${source})` : ''}: ${issues.join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Turn zod issues into "path.to.field: message" lines. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    let msg = i.message;
    if (i.code === 'unrecognized_keys') msg = `unknown field(s) ${i.keys.join(', ')} (check the spelling)`;
    return path ? `${path}: ${msg}` : msg;
  });
}

/** Validate a config object; throws ConfigError listing every problem with its field. */
export function parseTradingConfig(raw: unknown, source = ''): TradingConfig {
  const r = TradingConfigSchema.safeParse(fillStrategyDefaults(raw));
  if (!r.success) throw new ConfigError(formatIssues(r.error), source);
  return r.data;
}

/**
 * The session-wide settings (orderSize, calibration window/refresh, maxPosition) are the defaults of the
 * strategy's own fields, so one number is stated once; a value written in the strategy section wins.
 */
function fillStrategyDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const c = raw as Record<string, unknown>;
  const s0 = c.strategy ?? { strategy: 'cj' };
  if (s0 === null || typeof s0 !== 'object' || Array.isArray(s0)) return raw;
  const s: Record<string, unknown> = { ...(s0 as Record<string, unknown>) };
  const cal = (c.calibration ?? {}) as Record<string, unknown>;
  const name = s.strategy;
  if (s.orderSize === undefined && typeof c.orderSize === 'number') s.orderSize = c.orderSize;
  if (name === 'cj' || name === 'as' || name === 'glft') {
    const windowSec = typeof cal.windowSec === 'number' ? cal.windowSec : 1800;
    const refreshSec = typeof cal.refreshSec === 'number' ? cal.refreshSec : 15;
    if (s.windowMs === undefined) s.windowMs = windowSec * 1000;
    if (s.refreshMs === undefined) s.refreshMs = refreshSec * 1000;
  }
  const maxPos = typeof c.maxPosition === 'number' ? c.maxPosition : 5;
  if (name === 'cj' && s.qMax === undefined && Number.isInteger(maxPos) && maxPos > 0) s.qMax = maxPos;
  if (name !== 'cj' && s.maxPosition === undefined && Number.isInteger(maxPos) && maxPos > 0)
    s.maxPosition = maxPos;
  return { ...c, strategy: s };
}

/** Overrides from the command line, applied before validation so errors still name the field. */
export interface ConfigOverrides {
  coin?: string;
  mode?: 'dry-run' | 'live';
  network?: 'mainnet' | 'testnet' | 'loopback';
  httpUrl?: string;
  wsUrl?: string;
  keyFile?: string;
  masterAddress?: string;
  journal?: string;
  startupCleanup?: 'own' | 'all';
  guard?: boolean;
}

/** Read a JSON config file (or start from `{}`), apply overrides, validate. */
export function loadTradingConfig(path: string | undefined, overrides: ConfigOverrides = {}): TradingConfig {
  let raw: Record<string, unknown> = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError([`--config: cannot read ${path} (${code ?? 'error'})`], '');
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError([`--config: ${path} is not valid JSON (${(err as Error).message})`], '');
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError([`--config: ${path} must hold a JSON object`], '');
    }
  }
  return parseTradingConfig(applyOverrides(raw, overrides), path ?? '');
}

export function applyOverrides(raw: Record<string, unknown>, o: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  if (o.coin !== undefined) out.coin = o.coin;
  if (o.mode !== undefined) out.mode = o.mode;
  if (o.network !== undefined) out.network = o.network;
  if (o.httpUrl !== undefined) out.httpUrl = o.httpUrl;
  if (o.wsUrl !== undefined) out.wsUrl = o.wsUrl;
  if (o.journal !== undefined) out.journal = o.journal;
  if (o.startupCleanup !== undefined) out.startupCleanup = o.startupCleanup;
  if (o.guard !== undefined) out.guard = o.guard;
  if (o.keyFile !== undefined || o.masterAddress !== undefined) {
    const acct = (raw.account && typeof raw.account === 'object' ? raw.account : {}) as Record<
      string,
      unknown
    >;
    out.account = {
      ...acct,
      ...(o.keyFile !== undefined ? { keyFile: o.keyFile } : {}),
      ...(o.masterAddress !== undefined ? { masterAddress: o.masterAddress } : {}),
    };
  }
  return out;
}

/** The HTTP and WebSocket endpoints the config points at. */
export function resolveEndpoints(c: TradingConfig): { httpUrl: string; wsUrl: string; isTestnet: boolean } {
  if (c.httpUrl && c.wsUrl) return { httpUrl: c.httpUrl, wsUrl: c.wsUrl, isTestnet: c.network === 'testnet' };
  if (c.network === 'testnet') return { httpUrl: TESTNET_HTTP_URL, wsUrl: TESTNET_WS_URL, isTestnet: true };
  return { httpUrl: MAINNET_HTTP_URL, wsUrl: MAINNET_WS_URL, isTestnet: false };
}
