/**
 * The service's own config sections, read from the same JSON file as the trading config: `api`, `alerts`,
 * `webhooks`, `telegram` and `record` (for `cjmm serve`). They are split off and validated here (zod, strict:
 * every error names its field), the rest goes to the trading config's own validation, and both sets of errors
 * are reported together before anything starts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ALERT_KINDS, type AlertKind } from '../rpc/events.ts';
import {
  applyOverrides,
  ConfigError,
  type ConfigOverrides,
  formatIssues,
  type TradingConfig,
} from '../trading/config.ts';
import { type AccountRiskConfig, parseMarkets } from '../trading/markets.ts';

export const DEFAULT_API_PORT = 8787;
export const DEFAULT_API_HOST = '127.0.0.1';
export const TELEGRAM_API_URL = 'https://api.telegram.org';

const httpUrl = z.string({ error: 'must be an http(s) URL string' }).refine((s) => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'must be an http or https URL');
const events = z
  .array(
    z.enum(ALERT_KINDS as [AlertKind, ...AlertKind[]], { error: `must be one of ${ALERT_KINDS.join(', ')}` }),
  )
  .optional();

export const ApiConfigSchema = z
  .strictObject({
    /** Start the API (also `--api`); `cjmm serve` always starts it. */
    enabled: z.boolean({ error: 'must be true or false' }).default(false),
    port: z
      .number({ error: 'must be a port number' })
      .int('must be an integer')
      .min(0, 'must be between 0 and 65535')
      .max(65535, 'must be between 0 and 65535')
      .default(DEFAULT_API_PORT),
    host: z.string({ error: 'must be a host name or address' }).min(1).default(DEFAULT_API_HOST),
    /** Where a generated token is written (mode 600); default next to the journal. */
    tokenFile: z.string().min(1, 'must be a path').optional(),
  })
  .prefault({});

export const AlertsConfigSchema = z
  .strictObject({
    fillsSummaryMin: z
      .number({ error: 'must be a number of minutes' })
      .min(0, 'must be >= 0 (0 = off)')
      .default(15),
    kappaEpsilonMax: z.number({ error: 'must be a number' }).min(0, 'must be >= 0 (0 = off)').default(2),
    cooldownSec: z.number({ error: 'must be a number of seconds' }).min(0, 'must be >= 0').default(300),
  })
  .prefault({});

export const WebhookConfigSchema = z.strictObject({
  url: httpUrl,
  /** Alert kinds to send (default all). */
  events,
  timeoutMs: z.number().int('must be an integer').positive('must be > 0').default(5000),
  /** Further attempts after a failed one (backoff 1 s, 2 s, 4 s, …). */
  retries: z.number().int('must be an integer').min(0, 'must be >= 0').max(10, 'must be <= 10').default(3),
  headers: z.record(z.string(), z.string()).optional(),
  /** Body: the alert as JSON (default), or Slack's {text} / Discord's {content}. */
  format: z.enum(['json', 'slack', 'discord'], { error: 'must be json, slack or discord' }).default('json'),
});

export const TelegramConfigSchema = z
  .strictObject({
    /** The only chat the bot talks to and takes commands from. */
    chatId: z.union([z.string().regex(/^-?\d+$/, 'must be a numeric chat id'), z.number().int()], {
      error: 'is required: the numeric id of your chat with the bot',
    }),
    tokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .default('CJMM_TELEGRAM_TOKEN'),
    /** File holding the bot token (mode 600); takes precedence over tokenEnv. */
    tokenFile: z.string().min(1, 'must be a path').optional(),
    apiUrl: httpUrl.default(TELEGRAM_API_URL),
    events,
    /** getUpdates long-poll timeout, seconds. */
    pollTimeoutSec: z.number().int('must be an integer').min(0).max(60, 'must be <= 60').default(30),
  })
  .optional();

export const RecordConfigSchema = z
  .strictObject({
    enabled: z.boolean({ error: 'must be true or false' }).default(true),
    /** Store folder the recorder writes to. */
    store: z.string().min(1, 'must be a path').default('./data/store'),
    /** Coins to record (default: the traded coins). */
    coins: z.array(z.string().regex(/^[A-Za-z0-9:_-]{1,20}$/, 'must be coin names such as ETH')).optional(),
    flushIntervalSec: z.number().positive('must be > 0').default(10),
  })
  .prefault({});

export const ServiceConfigSchema = z.strictObject({
  api: ApiConfigSchema,
  alerts: AlertsConfigSchema,
  webhooks: z.array(WebhookConfigSchema).default([]),
  telegram: TelegramConfigSchema,
  record: RecordConfigSchema,
});

export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;
export type TelegramConfig = NonNullable<ServiceConfig['telegram']>;

const SERVICE_KEYS = ['api', 'alerts', 'webhooks', 'telegram', 'record'] as const;

export interface ServiceOverrides {
  api?: boolean;
  apiPort?: number;
  apiHost?: string;
}

export interface LoadedConfig {
  /** The first market's config (the only one for a one-coin config). */
  trading: TradingConfig;
  /** Every market (`markets` / `--coins`); one entry for a one-coin config. */
  markets: TradingConfig[];
  accountRisk: AccountRiskConfig;
  service: ServiceConfig;
}

/** Validate a raw config object (both parts); one ConfigError lists every problem with its field. */
export function parseServiceConfig(
  raw: Record<string, unknown>,
  overrides: ConfigOverrides = {},
  service: ServiceOverrides = {},
  source = '',
  coins?: string[],
): LoadedConfig {
  const own: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((SERVICE_KEYS as readonly string[]).includes(k)) own[k] = v;
    else rest[k] = v;
  }
  const api =
    own.api && typeof own.api === 'object' && !Array.isArray(own.api) ? { ...(own.api as object) } : own.api;
  if (api === undefined || (typeof api === 'object' && api !== null && !Array.isArray(api))) {
    const a = (api ?? {}) as Record<string, unknown>;
    if (service.api) a.enabled = true;
    if (service.apiPort !== undefined) a.port = service.apiPort;
    if (service.apiHost !== undefined) a.host = service.apiHost;
    own.api = a;
  }
  const issues: string[] = [];
  let parsed: ReturnType<typeof parseMarkets> | undefined;
  const withOverrides = applyOverrides(rest, overrides);
  // --coin on a one-coin config is that coin; --coins (or a `markets` section) makes several.
  if (overrides.coin !== undefined && coins === undefined) delete withOverrides.markets;
  try {
    parsed = parseMarkets(withOverrides, coins);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.push(...err.issues);
  }
  const r = ServiceConfigSchema.safeParse(own);
  if (!r.success) issues.push(...formatIssues(r.error));
  if (issues.length > 0 || !parsed || !r.success) throw new ConfigError(issues, source);
  return {
    trading: parsed.markets[0],
    markets: parsed.markets,
    accountRisk: parsed.accountRisk,
    service: r.data,
  };
}

/** Read the JSON config file, split, validate (see parseServiceConfig). */
export function loadServiceConfig(
  path: string,
  overrides: ConfigOverrides = {},
  service: ServiceOverrides = {},
  coins?: string[],
): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [`--config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`],
      '',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`--config: ${path} is not valid JSON (${(err as Error).message})`], '');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`--config: ${path} must hold a JSON object`], '');
  }
  return parseServiceConfig(raw as Record<string, unknown>, overrides, service, path, coins);
}

/** Where the generated API token goes: api.tokenFile, else `api-token` beside the journal. */
export function apiTokenPath(c: LoadedConfig): string {
  return c.service.api.tokenFile ?? join(dirname(c.trading.journal), 'api-token');
}
