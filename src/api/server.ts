/**
 * The REST API, the live stream (server-sent events) and the web dashboard, on fastify. Every /api/v1 route
 * needs the bearer token (header `Authorization: Bearer <token>`, or the HttpOnly cookie the dashboard gets
 * from `/?token=…`); `/health` does not. Every route calls the service core (src/rpc/core.ts); refusals are
 * 4xx JSON errors `{statusCode, error, message}` that change nothing. Response schemas double as the OpenAPI
 * document at /api/v1/openapi.json.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Ajv from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { RpcError, type ServiceCore } from '../rpc/core.ts';
import { SERVICE_EVENT_TYPES, type ServiceEvent, type ServiceEventType } from '../rpc/events.ts';
import type { ControlAction, ControlSource } from '../rpc/port.ts';
import { tokenMatches } from './auth.ts';
import * as S from './schemas.ts';

export const COOKIE_NAME = 'cjmm_token';
/** GET routes requested once at start (and a refused one, for the error serializer). */
const WARM_UP = [
  '/health',
  '/api/v1/status',
  '/api/v1/markets',
  '/api/v1/orders',
  '/api/v1/fills',
  '/api/v1/params/history',
  '/api/v1/pnl',
  '/api/v1/quotes',
  '/api/v1/alerts',
  '/api/v1/status?unknown=1',
];
const API = '/api/v1';
const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

export interface ApiLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface ApiServerOptions {
  core: ServiceCore;
  token: string;
  host?: string;
  port?: number;
  logger?: ApiLogger;
  /** Heartbeat comment on the stream every this many ms (default 15 s). */
  heartbeatMs?: number;
  /** A stream client more than this many bytes behind is dropped (default 4 MiB). */
  maxStreamBacklog?: number;
  /** Server-side time of each request, from arrival to the response serialised and handed over (benchmarks). */
  onRequestTiming?: (method: string, url: string, status: number, micros: number) => void;
}

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  port: number;
  /** Connected stream clients. */
  streamClients(): number;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(statusCode: number, code: string, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Dashboard files: ours, and uPlot from its npm package (no CDN: works offline). */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const uplot = dirname(require.resolve('uplot/package.json'));
  const files: [string, string, string][] = [
    ['app.js', join(here, 'dashboard', 'app.js'), 'text/javascript; charset=utf-8'],
    ['app.css', join(here, 'dashboard', 'app.css'), 'text/css; charset=utf-8'],
    ['uPlot.iife.min.js', join(uplot, 'dist', 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.min.css', join(uplot, 'dist', 'uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([name, path, type]) => [name, { type, body: readFileSync(path) }]));
}

function bearer(req: FastifyRequest): { token: string | undefined; via: 'header' | 'cookie' | 'none' } {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return { token: m ? m[1] : undefined, via: 'header' };
  }
  const c = req.cookies?.[COOKIE_NAME];
  if (c) return { token: c, via: 'cookie' };
  return { token: undefined, via: 'none' };
}

function errorBody(statusCode: number, error: string, message: string) {
  return { statusCode, error, message };
}

/** A fastify validation error as one line naming the field. */
function validationMessage(err: {
  validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}): string {
  const parts = (err.validation ?? []).map((v) => {
    const field = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const extra = v.params?.additionalProperty;
    if (extra !== undefined) return `${err.validationContext ?? 'request'}: unknown field '${String(extra)}'`;
    return `${field || err.validationContext || 'request'}: ${v.message ?? 'is invalid'}`;
  });
  return parts.join('; ') || 'invalid request';
}

export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const { core, token } = o;
  const log = o.logger;
  const assets = loadAssets();
  const dashboardHtml = readFileSync(join(here, 'dashboard', 'index.html'));
  const app = Fastify({ logger: false, forceCloseConnections: true });
  // Query strings are text: coerce them to the schema's types. JSON bodies are typed: never coerce
  // ({"coin": 5} is an error, not coin "5"). Every problem is reported at once.
  const ajvQuery = new Ajv.default({ coerceTypes: true, allErrors: true, strict: false });
  const ajvBody = new Ajv.default({ coerceTypes: false, allErrors: true, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? ajvBody : ajvQuery).compile(schema),
  );
  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'cjmm API',
        version: '1',
        description:
          'Status, orders, fills, parameter history, P&L and controls of a running cjmm market maker. ' +
          'Every /api/v1 route needs `Authorization: Bearer <token>` (CJMM_API_TOKEN, or the token file whose path the process logs).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // JSON bodies: an empty body is {} (POST /pause with no body = all markets); malformed JSON is a 400.
  app.removeContentTypeParser('application/json');
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        new HttpError(400, 'malformed-json', `body: not valid JSON (${(err as Error).message})`),
        undefined,
      );
    }
  });

  app.setErrorHandler(
    (
      err: Error & { statusCode?: number; code?: string; validation?: unknown[]; validationContext?: string },
      _req,
      reply,
    ) => {
      if (err instanceof RpcError)
        return reply.code(err.status).send(errorBody(err.status, err.code, err.message));
      if (err instanceof HttpError)
        return reply.code(err.statusCode).send(errorBody(err.statusCode, err.code, err.message));
      if (err.validation) {
        return reply.code(400).send(errorBody(400, 'bad-request', validationMessage(err as never)));
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) log?.error({ err: err.message }, 'API error');
      const code =
        status === 415
          ? 'unsupported-media-type'
          : status === 413
            ? 'body-too-large'
            : status === 500
              ? 'internal'
              : 'bad-request';
      const msg =
        status === 415 ? 'body: send JSON (content-type: application/json), or no body' : err.message;
      return reply.code(status).send(errorBody(status, code, msg));
    },
  );

  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send(
        errorBody(
          404,
          'not-found',
          `no route ${req.method} ${req.url.split('?')[0]} (see ${API}/openapi.json)`,
        ),
      );
  });

  if (o.onRequestTiming) {
    const timing = o.onRequestTiming;
    const started = new WeakMap<object, bigint>();
    app.addHook('onRequest', async (req) => {
      started.set(req, process.hrtime.bigint());
    });
    // Arrival → the response serialised and handed to be written (the socket's own flushing is not ours).
    app.addHook('onSend', async (req, reply, payload) => {
      const t = started.get(req);
      if (t !== undefined)
        timing(req.method, req.url, reply.statusCode, Number(process.hrtime.bigint() - t) / 1000);
      return payload;
    });
  }

  // Authentication of every /api/v1 route.
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (!path.startsWith(`${API}/`) && path !== API) return;
    const b = bearer(req);
    if (!tokenMatches(b.token, token)) {
      reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="cjmm"')
        .send(
          errorBody(
            401,
            'unauthorized',
            b.via === 'none'
              ? 'missing token: send Authorization: Bearer <token> (CJMM_API_TOKEN, or the token file the process logged)'
              : 'wrong token',
          ),
        );
      return reply;
    }
    // A cookie rides along on cross-site requests: control actions by cookie must be JSON (a cross-site form
    // cannot send JSON without a CORS preflight, which this server never grants).
    if (b.via === 'cookie' && req.method !== 'GET' && req.method !== 'HEAD') {
      const ct = String(req.headers['content-type'] ?? '');
      if (!ct.startsWith('application/json')) {
        reply
          .code(403)
          .send(
            errorBody(
              403,
              'forbidden',
              'cookie-authenticated requests must send content-type application/json',
            ),
          );
        return reply;
      }
    }
  });

  const errors = { 400: S.ErrorSchema, 401: S.ErrorSchema, 404: S.ErrorSchema, 405: S.ErrorSchema };
  /** The other methods on a known path: 405 naming the right one. */
  const methodNotAllowed = (url: string, allowed: 'GET' | 'POST') => {
    app.route({
      method: ALL_METHODS.filter((m) => m !== allowed),
      url,
      schema: { hide: true },
      handler: async (req, reply) =>
        reply
          .code(405)
          .header('allow', allowed === 'GET' ? 'GET, HEAD' : 'POST')
          .send(
            errorBody(405, 'method-not-allowed', `${req.method} ${url}: method not allowed; use ${allowed}`),
          ),
    });
  };
  const get = <Q>(
    url: string,
    summary: string,
    response: unknown,
    handler: (q: Q) => unknown,
    querystring?: unknown,
  ) => {
    const schema = {
      summary,
      ...(querystring ? { querystring } : {}),
      response: { 200: response, ...errors },
    };
    app.get(url, { schema: schema as never }, async (req) => handler(req.query as Q));
    methodNotAllowed(url, 'GET');
  };

  app.get(
    '/health',
    { schema: { summary: 'liveness (no token)', security: [], response: { 200: S.HealthSchema } } as never },
    async () => ({
      status: 'ok',
      uptimeSec: (Date.now() - core.port.startedAt) / 1000,
    }),
  );
  methodNotAllowed('/health', 'GET');

  get(
    `${API}/status`,
    'mode, uptime, account and every market: quotes, position, P&L, parameters, κε, state',
    S.StatusSchema,
    () => core.status(),
    S.EmptyQuery,
  );
  get<{ coin?: string }>(
    `${API}/markets`,
    'full market snapshots (state reasons, lot size and bounds, P&L attribution); ?coin= for one',
    S.MarketsSchema,
    (q) => {
      // One coin: validated (404 naming the markets) like every other coin parameter.
      const only = q.coin === undefined ? undefined : core.market(q.coin).coin;
      const keep = (c: string) => only === undefined || c === only;
      return {
        markets: core.snapshots().filter((m) => keep(m.coin)),
        kappaEpsilonMax: core.alertSettings.kappaEpsilonMax,
        account: {
          ...core.status().account,
          ...(core.port.accountDetail?.() ?? { marginUse: null, reason: '' }),
        },
        pnlParts: core
          .coins()
          .filter(keep)
          .map((c) => ({ coin: c, ...core.pnlParts(c) })),
      };
    },
    S.CoinQuery,
  );
  get<{ coin?: string }>(
    `${API}/orders`,
    'open orders, and the last order actions',
    S.OrdersSchema,
    (q) => core.orders(q),
    S.CoinQuery,
  );
  get<{ coin?: string; since?: number; limit?: number }>(
    `${API}/fills`,
    'fills, oldest first',
    S.FillsSchema,
    (q) => core.fills(q),
    S.FillsQuery,
  );
  get<{ coin?: string; since?: number }>(
    `${API}/params/history`,
    'every calibration (values and standard errors), oldest first',
    S.ParamsHistorySchema,
    (q) => core.paramsHistory(q),
    S.SeriesQuery,
  );
  get<{ coin?: string; since?: number; maxPoints?: number }>(
    `${API}/pnl`,
    'P&L time series: total, realised, unrealised, fees, and the attribution (spread capture, adverse selection, inventory carry, funding)',
    S.PnlSeriesSchema,
    (q) => core.pnl(q),
    S.SeriesQuery,
  );
  get<{ coin?: string; since?: number; maxPoints?: number }>(
    `${API}/quotes`,
    'mid, our bid/ask and the position over time',
    S.QuotesSeriesSchema,
    (q) => core.quotes(q),
    S.SeriesQuery,
  );
  get<{ since?: number; limit?: number }>(
    `${API}/alerts`,
    'alerts, oldest first',
    S.AlertsSchema,
    (q) => core.alerts(q),
    S.AlertsQuery,
  );

  for (const action of ['pause', 'resume', 'flatten', 'stop'] as const) {
    const url = `${API}/${action}`;
    const what = {
      pause: 'pause quoting (orders cancelled; state paused)',
      resume: 'resume quoting',
      flatten: 'reduce-only exit: only the side that reduces the position is quoted until flat, then paused',
      stop: 'stop: cancel all, flush, exit (one coin: stop that market)',
    }[action];
    app.post(
      url,
      {
        schema: {
          summary: what,
          body: S.ControlBodySchema,
          response: { 200: S.ControlResultSchema, ...errors, 413: S.ErrorSchema, 415: S.ErrorSchema },
        } as never,
        // No body at all means every market.
        preValidation: async (req) => {
          if (req.body === undefined || req.body === null) req.body = {};
        },
      },
      async (req) => {
        const body = (req.body ?? {}) as { coin?: string };
        const source: ControlSource = req.headers['x-cjmm-source'] === 'dashboard' ? 'dashboard' : 'api';
        return core.control(action as ControlAction, body.coin, source);
      },
    );
    methodNotAllowed(url, 'POST');
  }

  // The live stream (server-sent events).
  const clients = new Set<ServerResponse>();
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const maxBacklog = o.maxStreamBacklog ?? 4 * 1024 * 1024;
  app.get(
    `${API}/stream`,
    {
      schema: {
        summary: `server-sent events: ${SERVICE_EVENT_TYPES.join(', ')} (event name = type, data = JSON)`,
        querystring: S.StreamQuery,
        produces: ['text/event-stream'],
        response: { 200: { type: 'string', description: 'text/event-stream' }, ...errors },
      } as never,
    },
    async (req, reply: FastifyReply) => {
      const q = req.query as { types?: string };
      let types: Set<ServiceEventType> | undefined;
      if (q.types) {
        const asked = q.types
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = asked.filter((t) => !(SERVICE_EVENT_TYPES as readonly string[]).includes(t));
        if (bad.length > 0) {
          throw new HttpError(
            400,
            'bad-request',
            `types: unknown event type(s) ${bad.join(', ')}; valid: ${SERVICE_EVENT_TYPES.join(', ')}`,
          );
        }
        types = new Set(asked as ServiceEventType[]);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const send = (e: ServiceEvent) => {
        if (types && !types.has(e.type)) return;
        if (res.writableLength > maxBacklog) {
          log?.warn({ backlog: res.writableLength }, 'stream client too slow: dropped');
          res.destroy();
          return;
        }
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      };
      send({ type: 'status', status: core.status() });
      const unsubscribe = core.bus.subscribe(send);
      const hb = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      clients.add(res);
      const done = () => {
        clearInterval(hb);
        unsubscribe();
        clients.delete(res);
      };
      res.on('close', done);
      res.on('error', done);
    },
  );
  methodNotAllowed(`${API}/stream`, 'GET');

  app.get(`${API}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  methodNotAllowed(`${API}/openapi.json`, 'GET');

  // The dashboard: `/?token=…` once sets the HttpOnly cookie and redirects to `/` (the token leaves the URL).
  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    const q = req.query as { token?: string };
    if (q.token !== undefined) {
      if (!tokenMatches(q.token, token)) {
        return reply.code(401).type('text/html; charset=utf-8').send(refusedPage('wrong token'));
      }
      reply.setCookie(COOKIE_NAME, token, { httpOnly: true, sameSite: 'strict', path: '/' });
      return reply.redirect('/', 303);
    }
    if (!tokenMatches(req.cookies?.[COOKIE_NAME], token)) {
      return reply.code(401).type('text/html; charset=utf-8').send(refusedPage('no token'));
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(dashboardHtml);
  });
  app.get('/assets/:name', { schema: { hide: true } }, async (req, reply) => {
    const a = assets.get((req.params as { name: string }).name);
    if (!a) return reply.code(404).send(errorBody(404, 'not-found', 'no such asset'));
    return reply.type(a.type).header('cache-control', 'max-age=300').send(a.body);
  });

  // Warm up: fastify compiles a route's response serializer at its first request (tens of ms); do it now, in
  // process, so no client ever waits for it.
  await app.ready();
  for (let round = 0; round < 5; round++) {
    for (const url of WARM_UP) {
      await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    }
  }
  await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    app,
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    streamClients: () => clients.size,
    close: async () => {
      for (const c of clients) c.end();
      clients.clear();
      await app.close();
    },
  };
}

function refusedPage(why: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>cjmm — token required</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>cjmm dashboard: token required</h1>
<p>${why === 'wrong token' ? 'That token is wrong.' : 'This dashboard needs the API token.'}
Open <code>/?token=&lt;token&gt;</code> once (the token is <code>CJMM_API_TOKEN</code>, or in the token file whose path
the process logged at start); the browser then keeps it in an HttpOnly cookie.</p></body></html>`;
}
