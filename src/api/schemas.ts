/**
 * JSON schemas of every API response (and request). Fastify serialises each response through its schema, and
 * the same schemas make the OpenAPI document served at /api/v1/openapi.json (the tests validate real
 * responses against that document). Unknown numbers are null (JSON has no NaN).
 */
import { ALERT_KINDS, SERVICE_EVENT_TYPES } from '../rpc/events.ts';
import { CONTROL_ACTIONS, MARKET_STATES, PARAM_NAMES } from '../rpc/port.ts';

const num = { type: 'number' } as const;
const numOrNull = { type: ['number', 'null'] } as const;
const str = { type: 'string' } as const;
const state = { type: 'string', enum: [...MARKET_STATES] } as const;

const obj = (properties: Record<string, unknown>, description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

const paramValues = Object.fromEntries(PARAM_NAMES.map((k) => [k, numOrNull]));

export const ErrorSchema = obj(
  {
    statusCode: { type: 'integer' },
    error: { ...str, description: 'machine-readable code, e.g. unknown-coin, bad-request, unauthorized' },
    message: { ...str, description: 'what is wrong and how to fix it' },
  },
  'A refused request; nothing was changed.',
);

export const HealthSchema = obj({
  status: { type: 'string', enum: ['ok'] },
  uptimeSec: num,
});

export const PnlSchema = obj(
  { realised: num, unrealised: num, fees: num, total: num },
  'USD since start: total = realised + unrealised − fees (fees paid, positive; realised includes funding)',
);

export const PnlAttributionSchema = obj(
  {
    spreadCapture: { ...num, description: 'Σ over fills of the edge against the reference at the fill' },
    adverseSelection: {
      ...num,
      description: "the reference's move over the markout horizon after each fill",
    },
    inventoryCarry: { ...num, description: 'mark-to-market of the position held after the horizon' },
    fees: { ...num, description: 'fees: negative when paid, positive for rebates' },
    funding: { ...num, description: 'funding received (negative = paid)' },
  },
  "USD since start: the engine's attribution of pnl.total (the status line's numbers); the five sum to it",
);

export const ParamsSchema = obj(
  { ...paramValues, stderr: obj(paramValues, 'standard errors (null where unknown, e.g. priors)') },
  'λ± (1/s), κ± (1/USD), ε± (USD), σ (USD/√s) in use',
);

export const KappaEpsilonSchema = obj({ plus: numOrNull, minus: numOrNull }, 'κ±ε±: adverse selection');

export const StatusSchema = obj({
  mode: { type: 'string', enum: ['paper', 'live'] },
  uptimeSec: num,
  account: obj({
    equity: { ...num, description: 'USD' },
    notional: { ...num, description: 'USD, Σ |position| × mid' },
    drawdown: { ...num, description: 'fraction below the equity peak (0–1)' },
    state,
  }),
  markets: {
    type: 'array',
    items: obj({
      coin: str,
      state,
      mid: numOrNull,
      bid: { ...numOrNull, description: 'our best resting bid' },
      ask: { ...numOrNull, description: 'our best resting ask' },
      position: { ...num, description: 'coin units' },
      pnl: PnlSchema,
      params: ParamsSchema,
      kappaEpsilon: KappaEpsilonSchema,
      pnlAttribution: PnlAttributionSchema,
    }),
  },
});

export const MarketSnapshotSchema = obj({
  coin: str,
  state,
  reason: str,
  mid: numOrNull,
  bid: numOrNull,
  ask: numOrNull,
  position: num,
  lotSize: num,
  maxPositionLots: num,
  pnl: PnlSchema,
  pnlAttribution: PnlAttributionSchema,
  funding: num,
  params: { anyOf: [ParamsSchema, { type: 'null' }] },
  kappaEpsilon: KappaEpsilonSchema,
  fills: { type: 'integer' },
  openOrders: { type: 'integer' },
});
export const MarketsSchema = obj({
  markets: { type: 'array', items: MarketSnapshotSchema },
  kappaEpsilonMax: { ...num, description: 'the κε alert threshold (0 = off)' },
  account: obj({
    equity: num,
    notional: num,
    drawdown: num,
    state,
    marginUse: {
      ...numOrNull,
      description:
        "margin used / equity (live: the exchange's clearinghouseState; paper: Σ notional / max leverage)",
    },
    reason: str,
  }),
  pnlParts: {
    type: 'array',
    description: "each market's P&L split as the status line splits it (fees negative when paid)",
    items: obj({
      coin: str,
      spreadCapture: num,
      adverseSelection: num,
      inventoryCarry: num,
      fees: num,
      funding: num,
      total: num,
    }),
  },
});

const detail = { type: 'object', additionalProperties: true } as const;

export const OrderSchema = obj({
  coin: str,
  cloid: str,
  oid: { type: ['integer', 'null'] },
  side: { type: 'string', enum: ['bid', 'ask'] },
  px: num,
  sz: num,
  filled: num,
  state: str,
  openedAt: numOrNull,
});
export const OrdersSchema = obj({
  orders: { type: 'array', items: OrderSchema, description: 'orders resting or in flight now' },
  recent: {
    type: 'array',
    description: 'the last order actions (order, ack, reject, cancel, modify), oldest first',
    items: obj({ coin: str, time: num, action: str, detail }),
  },
});

export const FillSchema = obj({
  coin: str,
  time: num,
  exTime: numOrNull,
  side: { type: 'string', enum: ['bid', 'ask'] },
  px: num,
  sz: num,
  fee: num,
  liquidity: str,
  tid: num,
  cloid: str,
  mid: { ...numOrNull, description: 'mid when the fill arrived' },
  position: { ...num, description: 'position after the fill' },
});
export const FillsSchema = obj({ fills: { type: 'array', items: FillSchema } });

export const CalibrationSchema = obj({
  coin: str,
  time: num,
  at: { ...num, description: 'exchange time of the end of the calibration window' },
  source: { type: 'string', enum: ['fresh', 'last-good', 'prior'] },
  ok: { type: 'boolean' },
  flags: { type: 'array', items: str },
  values: obj(paramValues),
  stderr: obj(paramValues),
  kappaEpsilonPlus: numOrNull,
  kappaEpsilonMinus: numOrNull,
});
export const ParamsHistorySchema = obj({ coin: str, points: { type: 'array', items: CalibrationSchema } });

export const PnlSeriesSchema = obj({
  coin: str,
  points: {
    type: 'array',
    items: obj({
      time: num,
      total: numOrNull,
      realised: numOrNull,
      unrealised: numOrNull,
      fees: { ...numOrNull, description: 'fees paid (positive), as in pnl.fees' },
      spreadCapture: {
        ...numOrNull,
        description: 'engine attribution: edge against the reference at each fill',
      },
      adverseSelection: {
        ...numOrNull,
        description: "engine attribution: the reference's move over the markout horizon after each fill",
      },
      inventoryCarry: {
        ...numOrNull,
        description:
          'engine attribution: mark-to-market of the seasoned position; total = spread + adverse + carry + funding − fees',
      },
      funding: { ...numOrNull, description: 'funding received (negative = paid), part of realised' },
      position: numOrNull,
    }),
  },
});

export const QuotesSeriesSchema = obj({
  coin: str,
  lotSize: num,
  maxPositionLots: num,
  points: {
    type: 'array',
    items: obj({ time: num, mid: numOrNull, bid: numOrNull, ask: numOrNull, position: numOrNull }),
  },
});

export const AlertSchema = obj({
  id: { type: 'integer' },
  time: num,
  kind: { type: 'string', enum: [...ALERT_KINDS] },
  severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
  coin: { type: ['string', 'null'] },
  message: str,
  data: detail,
});
export const AlertsSchema = obj({ alerts: { type: 'array', items: AlertSchema } });

export const ControlBodySchema = {
  type: 'object',
  properties: { coin: { type: 'string', minLength: 1, description: 'one market; omit for all' } },
  additionalProperties: false,
} as const;

export const ControlResultSchema = obj({
  action: { type: 'string', enum: [...CONTROL_ACTIONS] },
  coin: { type: ['string', 'null'] },
  markets: { type: 'array', items: obj({ coin: str, state, openOrders: { type: 'integer' } }) },
});

/** No query parameters (an unknown one is a 400 naming it, not silently ignored). */
export const EmptyQuery = { type: 'object', properties: {}, additionalProperties: false } as const;
export const CoinQuery = {
  type: 'object',
  properties: { coin: { type: 'string', minLength: 1 } },
  additionalProperties: false,
} as const;
export const SeriesQuery = {
  type: 'object',
  properties: {
    coin: { type: 'string', minLength: 1 },
    since: { type: 'number', minimum: 0, description: 'wall-clock ms since the epoch' },
    maxPoints: { type: 'integer', minimum: 1, maximum: 20000 },
  },
  additionalProperties: false,
} as const;
export const FillsQuery = {
  type: 'object',
  properties: {
    coin: { type: 'string', minLength: 1 },
    since: { type: 'number', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 5000 },
  },
  additionalProperties: false,
} as const;
export const AlertsQuery = {
  type: 'object',
  properties: { since: { type: 'number', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 500 } },
  additionalProperties: false,
} as const;
export const StreamQuery = {
  type: 'object',
  properties: {
    types: {
      type: 'string',
      description: `comma-separated event types to receive (default all): ${SERVICE_EVENT_TYPES.join(', ')}`,
    },
  },
  additionalProperties: false,
} as const;
