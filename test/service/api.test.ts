/**
 * The REST API and live stream of a real paper session (loopback server replaying the real ETH recording at
 * 20×): token auth, every endpoint's exact keys validated against the served OpenAPI document, refusals that
 * change nothing, the controls (journalled; a paused coin has no resting orders), the SSE stream, and
 * `cjmm status` reading the running process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { REPO_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { type Harness, startHarness, TEST_TOKEN } from './harness.ts';

type Json = Record<string, unknown>;
let h: Harness;
let openapi: {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
};
const ajv = new Ajv.default({ strict: false, allErrors: true });

/** Validates a response body against the OpenAPI document's schema for that path, method and status. */
function assertMatchesSchema(path: string, method: string, status: number, body: unknown): void {
  const op = openapi.paths[path]?.[method];
  assert.ok(op, `no ${method} ${path} in the OpenAPI document`);
  const schema = op.responses[String(status)]?.content?.['application/json']?.schema;
  assert.ok(schema, `no ${status} schema for ${method} ${path}`);
  const validate = ajv.compile(schema);
  assert.ok(
    validate(body),
    `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
  );
}

async function sseEvents(url: string, until: (types: string[]) => boolean, timeoutMs = 20_000) {
  const ac = new AbortController();
  const r = await fetch(url, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, signal: ac.signal });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: { type: string; data: Json }[] = [];
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const t0 = Date.now();
  try {
    while (!until(events.map((e) => e.type)) && Date.now() - t0 < timeoutMs) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (ev && data) events.push({ type: ev, data: JSON.parse(data) });
        i = buf.indexOf('\n\n');
      }
    }
  } finally {
    ac.abort();
  }
  return events;
}

describe('REST API of a running paper session', { skip: sharedSkip }, () => {
  before(async () => {
    h = await startHarness();
    const r = await h.get('/api/v1/openapi.json');
    assert.equal(r.status, 200);
    openapi = r.body as typeof openapi;
    // Fills, calibrations and a κε alert come within seconds at 20×.
    await waitFor(() => h.service.core.fills().fills.length >= 2 || undefined, 'two fills', 60_000);
    await waitFor(
      () => h.service.core.paramsHistory().points.length >= 2 || undefined,
      'two calibrations',
      60_000,
    );
  });
  after(async () => {
    await h?.close();
  });

  test('health without a token; every /api/v1 route refuses a missing or wrong token with 401', async () => {
    const health = await fetch(`${h.url}/health`);
    assert.equal(health.status, 200);
    const hb = (await health.json()) as Json;
    assert.equal(hb.status, 'ok');
    assertMatchesSchema('/health', 'get', 200, hb);
    for (const path of Object.keys(openapi.paths).filter((p) => p.startsWith('/api/v1/'))) {
      const method = Object.keys(openapi.paths[path])[0];
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token-0123456789' },
        { authorization: `Basic ${TEST_TOKEN}` },
      ]) {
        const r = await fetch(h.url + path, { method: method.toUpperCase(), headers });
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        const body = (await r.json()) as Json;
        assert.equal(body.error, 'unauthorized');
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="cjmm"');
      }
    }
    const noToken = await fetch(`${h.url}/api/v1/openapi.json`);
    assert.equal(noToken.status, 401);
  });

  test('GET /api/v1/status: exactly the keys of the issue, numbers consistent with the engine', async () => {
    const r = await h.get('/api/v1/status');
    assert.equal(r.status, 200);
    assertMatchesSchema('/api/v1/status', 'get', 200, r.body);
    const s = r.body as Json;
    assert.deepEqual(Object.keys(s), ['mode', 'uptimeSec', 'account', 'markets']);
    assert.equal(s.mode, 'paper');
    assert.deepEqual(Object.keys(s.account as Json), ['equity', 'notional', 'drawdown', 'state']);
    const m = (s.markets as Json[])[0];
    assert.deepEqual(Object.keys(m), [
      'coin',
      'state',
      'mid',
      'bid',
      'ask',
      'position',
      'pnl',
      'params',
      'kappaEpsilon',
      'pnlAttribution',
    ]);
    assert.deepEqual(Object.keys(m.pnl as Json), ['realised', 'unrealised', 'fees', 'total']);
    // The engine's attribution of the same total, as the status line prints it.
    const a = m.pnlAttribution as Record<string, number>;
    assert.deepEqual(Object.keys(a), [
      'spreadCapture',
      'adverseSelection',
      'inventoryCarry',
      'fees',
      'funding',
    ]);
    const parts = a.spreadCapture + a.adverseSelection + a.inventoryCarry + a.fees + a.funding;
    assert.ok(
      Math.abs(parts - (m.pnl as Record<string, number>).total) < 1e-6,
      'the attribution sums to pnl.total',
    );
    assert.ok(Math.abs(a.fees + (m.pnl as Record<string, number>).fees) < 1e-9, 'fees: paid = −attributed');
    const p = m.params as Json;
    assert.deepEqual(Object.keys(p), [
      'lambdaPlus',
      'lambdaMinus',
      'kappaPlus',
      'kappaMinus',
      'epsilonPlus',
      'epsilonMinus',
      'sigma',
      'stderr',
    ]);
    assert.equal(m.coin, 'ETH');
    assert.ok(['active', 'reducing', 'halted', 'paused', 'stale'].includes(m.state as string));
    const pnl = m.pnl as Record<string, number>;
    assert.ok(
      Math.abs(pnl.realised + pnl.unrealised - pnl.fees - pnl.total) < 1e-6,
      'total = realised + unrealised − fees',
    );
    // κε in status is the product of the κ and ε in use.
    const ke = m.kappaEpsilon as Record<string, number>;
    if (typeof p.kappaPlus === 'number' && typeof p.epsilonPlus === 'number') {
      assert.ok(Math.abs(ke.plus - (p.kappaPlus as number) * (p.epsilonPlus as number)) < 1e-9);
    }
  });

  test('every GET endpoint answers with its schema; series and history are real', async () => {
    const paths = [
      '/api/v1/markets',
      '/api/v1/orders',
      '/api/v1/fills',
      '/api/v1/params/history',
      '/api/v1/pnl',
      '/api/v1/quotes',
      '/api/v1/alerts',
    ];
    await waitFor(() => h.service.core.pnl().points.length >= 3 || undefined, 'three samples');
    for (const p of paths) {
      const r = await h.get(p);
      assert.equal(r.status, 200, p);
      assertMatchesSchema(p, 'get', 200, r.body);
    }
    const fills = (await h.get('/api/v1/fills?coin=ETH')).body as { fills: Json[] };
    assert.ok(fills.fills.length >= 2);
    const eng = h.service.port.engine('ETH')!;
    const engFills = eng.portfolio.fills;
    assert.equal(fills.fills[0].tid, engFills[0].tid, 'fills are the engine’s, in order');
    const hist = (await h.get('/api/v1/params/history?coin=ETH')).body as {
      points: { values: Json; stderr: Json; time: number }[];
    };
    assert.ok(hist.points.length >= 2);
    const last = hist.points.at(-1)!;
    assert.ok(typeof last.values.kappaPlus === 'number' && typeof last.stderr.kappaPlus === 'number');
    const since = hist.points[1].time;
    const later = (await h.get(`/api/v1/params/history?coin=ETH&since=${since}`)).body as {
      points: { time: number }[];
    };
    // New calibrations may have arrived in between: compare up to the first answer's last point.
    const upTo = last.time;
    assert.ok(later.points.every((p) => p.time >= since));
    assert.equal(
      later.points.filter((p) => p.time <= upTo).length,
      hist.points.filter((p) => p.time >= since).length,
      'since filters',
    );
    const pnl = (await h.get('/api/v1/pnl')).body as { points: Record<string, number>[] };
    for (const pt of pnl.points) {
      assert.ok(
        Math.abs(
          pt.spreadCapture + pt.adverseSelection + pt.inventoryCarry + pt.funding - pt.fees - pt.total,
        ) < 1e-6,
        'total = spread + adverse + carry + funding − fees',
      );
    }
    const alerts = (await h.get('/api/v1/alerts')).body as { alerts: { kind: string }[] };
    assert.ok(alerts.alerts.some((a) => a.kind === 'start'));
  });

  test('refusals: unknown coin, malformed body, unknown field, wrong method, bad query — 4xx JSON naming the problem, nothing changed', async () => {
    const before = h.service.core.status().markets[0].state;
    const journalBefore = controlEntries();
    const cases: [Promise<{ status: number; body: unknown }>, number, string, RegExp][] = [
      [
        h.post('/api/v1/pause', { coin: 'XYZ' }),
        404,
        'unknown-coin',
        /coin: 'XYZ' is not traded here \(markets: ETH\)/,
      ],
      [h.post('/api/v1/pause', '{"coin": "ETH"'), 400, 'malformed-json', /body: not valid JSON/],
      [h.post('/api/v1/flatten', { coin: 'ETH', now: true }), 400, 'bad-request', /unknown field 'now'/],
      [h.post('/api/v1/resume', { coin: 5 }), 400, 'bad-request', /coin: must be string/],
      [h.post('/api/v1/stop', '[1,2]'), 400, 'bad-request', /must be object/],
      [h.get('/api/v1/pause'), 405, 'method-not-allowed', /use POST/],
      [h.post('/api/v1/status', {}), 405, 'method-not-allowed', /use GET/],
      [h.get('/api/v1/fills?since=yesterday'), 400, 'bad-request', /since: must be number/],
      [h.get('/api/v1/pnl?coin=BTC'), 404, 'unknown-coin', /BTC/],
      [h.get('/api/v1/orders?colour=red'), 400, 'bad-request', /unknown field 'colour'/],
      [h.get('/api/v1/nothing'), 404, 'not-found', /no route GET \/api\/v1\/nothing/],
      [h.get('/api/v1/status?coin=ETH'), 400, 'bad-request', /unknown field 'coin'/],
      [h.get('/api/v1/markets?coin=BTC'), 404, 'unknown-coin', /BTC/],
    ];
    for (const [p, status, code, msg] of cases) {
      const r = await p;
      assert.equal(r.status, status, JSON.stringify(r.body));
      const b = r.body as Json;
      assert.equal(b.error, code);
      assert.match(b.message as string, msg);
      assert.deepEqual(Object.keys(b).sort(), ['error', 'message', 'statusCode']);
    }
    const text = await fetch(`${h.url}/api/v1/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'text/plain' },
      body: 'pause',
    });
    assert.equal(text.status, 415);
    assertMatchesSchema('/api/v1/pause', 'post', 415, await text.json());
    assert.equal(h.service.core.status().markets[0].state, before, 'state unchanged');
    assert.deepEqual(controlEntries(), journalBefore, 'no control journalled');
  });

  test('pause → paused with no resting orders; resume → quoting again; each journalled', async () => {
    await waitFor(
      () => h.service.port.engine('ETH')!.orders.openOrders().length > 0 || undefined,
      'resting quotes',
    );
    const r = await h.post('/api/v1/pause', { coin: 'ETH' });
    assert.equal(r.status, 200);
    assertMatchesSchema('/api/v1/pause', 'post', 200, r.body);
    const out = r.body as { markets: { coin: string; state: string; openOrders: number }[] };
    assert.deepEqual(out.markets, [{ coin: 'ETH', state: 'paused', openOrders: 0 }]);
    const st = (await h.get('/api/v1/status')).body as { markets: Json[] };
    assert.equal(st.markets[0].state, 'paused');
    assert.equal(st.markets[0].bid, null);
    assert.equal(st.markets[0].ask, null);
    assert.equal(((await h.get('/api/v1/orders')).body as { orders: unknown[] }).orders.length, 0);
    // While paused, the market moves on and nothing is placed.
    const placed = h.service.port.engine('ETH')!.orders.stats.placed;
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(h.service.port.engine('ETH')!.orders.stats.placed, placed, 'no order while paused');
    assert.equal(h.service.port.engine('ETH')!.orders.openOrders().length, 0);
    // Paused (no fill can come): the API, the stream's status and the status line say the same P&L parts.
    const line = h.service.port.running!.markets.get('ETH')!.snapshot().pnlAttribution;
    const api = ((await h.get('/api/v1/status')).body as { markets: Json[] }).markets[0]
      .pnlAttribution as Record<string, number>;
    const parts = ((await h.get('/api/v1/markets')).body as { pnlParts: Record<string, number>[] })
      .pnlParts[0];
    assert.ok(line, 'the status line has the attribution');
    for (const k of ['spreadCapture', 'fees', 'funding'] as const) {
      assert.equal(api[k], line[k], `${k}: API = status line`);
      assert.equal(parts[k], line[k], `${k}: /markets = status line`);
    }
    assert.match(
      h.lines.filter((l) => l.includes('paper ETH')).at(-1) ?? '',
      /pnl [-+]\d+\.\d\d USD \(spread [-+]\d+\.\d\d adv [-+]\d+\.\d\d carry/,
    );

    const res = await h.post('/api/v1/resume');
    assert.equal(res.status, 200);
    assert.equal((res.body as { markets: { state: string }[] }).markets[0].state === 'paused', false);
    await waitFor(
      () => h.service.port.engine('ETH')!.orders.openOrders().length > 0 || undefined,
      'quotes again',
    );
    const entries = controlEntries();
    assert.deepEqual(
      entries.slice(-2).map((e) => [e.action, e.coin, e.source]),
      [
        ['pause', 'ETH', 'api'],
        ['resume', 'ETH', 'api'],
      ],
    );
    const alerts = (await h.get('/api/v1/alerts')).body as { alerts: { kind: string; message: string }[] };
    assert.ok(alerts.alerts.some((a) => a.kind === 'control' && /ETH: pause \(by api\)/.test(a.message)));
  });

  test('flatten: reduce-only until flat, then paused', async () => {
    const eng = h.service.port.engine('ETH')!;
    await waitFor(
      () => Math.abs(eng.portfolio.position) > 1e-9 || undefined,
      'a position to flatten',
      60_000,
    );
    const r = await h.post('/api/v1/flatten', { coin: 'ETH' });
    assert.equal(r.status, 200);
    const state = (r.body as { markets: { state: string }[] }).markets[0].state;
    assert.ok(state === 'reducing' || state === 'paused', state);
    // Only the reducing side may rest while flattening.
    const pos0 = eng.portfolio.position;
    if (Math.abs(pos0) > 1e-9) {
      for (const o of eng.orders.openOrders()) assert.equal(o.side, pos0 > 0 ? 'ask' : 'bid');
    }
    await waitFor(
      () => h.service.core.status().markets[0].state === 'paused' || undefined,
      'flat, then paused',
      60_000,
    );
    assert.ok(Math.abs(eng.portfolio.position) < 1e-9, 'flat');
    await waitFor(() => eng.orders.openOrders().length === 0 || undefined, 'no orders');
    await h.post('/api/v1/resume', { coin: 'ETH' });
  });

  test('the stream pushes status, quotes, fills, parameter sets and risk changes', async () => {
    const events = await sseEvents(`${h.url}/api/v1/stream`, (t) =>
      ['status', 'quote', 'fill', 'params'].every((x) => t.includes(x)),
    );
    const types = new Set(events.map((e) => e.type));
    for (const t of ['status', 'quote', 'fill', 'params']) assert.ok(types.has(t), `${t} event`);
    const fill = events.find((e) => e.type === 'fill')!.data;
    for (const k of ['coin', 'time', 'side', 'px', 'sz', 'fee', 'tid', 'position']) assert.ok(k in fill, k);
    const st = events.find((e) => e.type === 'status')!.data;
    assertMatchesSchema('/api/v1/status', 'get', 200, st.status);
    const onlyP = sseEvents(
      `${h.url}/api/v1/stream?types=risk,control`,
      (t) => t.includes('control') && t.includes('risk'),
    );
    await waitFor(() => (h.service.api!.streamClients() > 0 ? true : undefined), 'the stream client');
    await h.post('/api/v1/pause', { coin: 'ETH' });
    await h.post('/api/v1/resume', { coin: 'ETH' });
    const only = await onlyP;
    assert.ok(
      only.some((e) => e.type === 'risk' && e.data.state === 'paused'),
      'risk event: paused',
    );
    assert.ok(only.some((e) => e.type === 'control' && e.data.action === 'pause'));
    assert.ok(only.every((e) => e.type === 'status' || e.type === 'risk' || e.type === 'control'));
    const bad = await h.get('/api/v1/stream?types=ticks');
    assert.equal(bad.status, 400);
  });

  test('cjmm status and trade status --url read the running process; the journal when none answers', async () => {
    // Asynchronous: the API answering them lives in this process.
    const cli = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
          { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 },
          (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const a = await cli(['status', '--url', h.url, '--json'], { CJMM_API_TOKEN: TEST_TOKEN });
    assert.equal(a.status, 0, a.stderr);
    const j = JSON.parse(a.stdout) as { source: string; status: { markets: { coin: string }[] } };
    assert.equal(j.source, 'api');
    assert.equal(j.status.markets[0].coin, 'ETH');
    const t = await cli(['trade', 'status', '--url', h.url], { CJMM_API_TOKEN: TEST_TOKEN });
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /running cjmm at http:\/\/127\.0\.0\.1:\d+: paper/);
    assert.match(t.stdout, /ETH [A-Z]+[^\n]*\n {2}P&L attribution \(USD\): spread [-+]\d+\.\d{4} adv /);
    assert.match(t.stdout, /ETH (ACTIVE|PAUSED|REDUCING|STALE|HALTED)/);
    const wrong = await cli(['status', '--url', h.url], { CJMM_API_TOKEN: 'not-the-right-token-123' });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /401 wrong token/);
    const none = await cli([
      'status',
      '--url',
      'http://127.0.0.1:9',
      '--journal',
      join(h.dir, 'journal.sqlite'),
    ]);
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /no cjmm API at http:\/\/127\.0\.0\.1:9 .*; from the journal:/);
    assert.match(none.stdout, /journal .*journal\.sqlite/);
    // Another server on that port (it answers 404): not a cjmm, so the journal as well.
    const other = createServer((_req, res) => res.writeHead(404).end('not found'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const o = await cli(['status', '--url', url, '--journal', join(h.dir, 'journal.sqlite')]);
      assert.equal(o.status, 0, o.stderr);
      assert.match(o.stdout, /health did not answer like cjmm; from the journal:/);
    } finally {
      other.close();
    }
  });

  test('POST /api/v1/stop cancels everything and ends the session cleanly', async () => {
    const r = await h.post('/api/v1/stop');
    assert.equal(r.status, 200);
    assert.equal((r.body as Json).coin, null);
    const s = await h.done;
    assert.equal(s.stopReason, 'stop (api)');
    assert.equal(s.restingAfterStop, 0);
    assert.deepEqual(s.violations, []);
    const kinds = h.service.core.alerts().alerts.map((a) => a.kind);
    assert.ok(kinds.includes('stop'));
    const j = openExistingJournal(join(h.dir, 'journal.sqlite'));
    try {
      const st = j.status();
      assert.equal(st.openOrders.length, 0);
      assert.equal((st.lastSession!.data as Json).event, 'stop');
      assert.equal((st.lastSession!.data as Json).reason, 'stop (api)');
    } finally {
      j.close();
    }
  });
});

function controlEntries(): { action: string; coin: string; source: string }[] {
  // Read-only, beside the running session's own connection (a second writer could hold its lock).
  const db = new DatabaseSync(join(h.dir, 'journal.sqlite'), { readOnly: true });
  try {
    return (db.prepare("SELECT data FROM events WHERE type = 'risk' ORDER BY id").all() as { data: string }[])
      .map((r) => JSON.parse(r.data) as Json)
      .filter((d) => d.event === 'control')
      .map((d) => ({ action: d.action as string, coin: d.coin as string, source: d.source as string }));
  } finally {
    db.close();
  }
}

test('the token file is written with mode 600 and never logged', async () => {
  const { resolveApiToken, readApiToken, tokenMatches } = await import('../../src/api/auth.ts');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const d = mkdtempSync(join(tmpdir(), 'cjmm-token-'));
  try {
    const t = resolveApiToken(join(d, 'sub', 'api-token'), {});
    assert.equal(t.source, 'file');
    assert.equal(statSync(t.path!).mode & 0o777, 0o600);
    assert.ok(t.token.length >= 40);
    assert.equal(readApiToken(t.path!, {}), t.token);
    const t2 = resolveApiToken(join(d, 'sub', 'api-token'), {});
    assert.notEqual(t2.token, t.token, 'a fresh token per start');
    assert.equal(resolveApiToken(join(d, 'x'), { CJMM_API_TOKEN: TEST_TOKEN }).token, TEST_TOKEN);
    assert.throws(() => resolveApiToken(join(d, 'x'), { CJMM_API_TOKEN: 'short' }), /at least 16 characters/);
    assert.equal(tokenMatches(t.token, t.token), true);
    assert.equal(tokenMatches(`${t.token}x`, t.token), false);
    assert.equal(tokenMatches(undefined, t.token), false);
    const { chmodSync } = await import('node:fs');
    chmodSync(t.path!, 0o644);
    assert.throws(() => readApiToken(t.path!, {}), /chmod 600/);
    // A later start over a file others can read makes it private again (before the new token goes in).
    const t3 = resolveApiToken(t.path!, {});
    assert.equal(statSync(t.path!).mode & 0o777, 0o600);
    assert.equal(readApiToken(t.path!, {}), t3.token);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
