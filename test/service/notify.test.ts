/**
 * Alerts leave the process: webhooks (JSON POSTs with retries and a timeout, never holding trading up) against
 * a local HTTP receiver, and Telegram against a local stub of the Bot API (getUpdates long-poll, sendMessage):
 * notifications out, commands in, only from the configured chat. Both driven by a real paper session.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DeliveryQueue } from '../../src/notify/delivery.ts';
import { sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { type Harness, startHarness } from './harness.ts';

type Json = Record<string, unknown>;

async function listen(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('webhooks against a local receiver', { skip: sharedSkip }, () => {
  const received: { path: string; body: Json; attempt: number }[] = [];
  const attempts = new Map<string, number>();
  let hangs = 0;
  let receiver: { server: Server; url: string };
  let h: Harness;
  before(async () => {
    receiver = await listen((req, body, res) => {
      const path = req.url ?? '';
      if (path === '/hang') {
        hangs++;
        return; // never answers: the sender's timeout must fire
      }
      const parsed = JSON.parse(body) as Json;
      const key = `${path}#${parsed.id ?? parsed.text}`;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      // /flaky refuses every first attempt: each notification must arrive on a retry.
      if (path === '/flaky' && n === 1) {
        res.writeHead(503).end();
        return;
      }
      received.push({ path, body: parsed, attempt: n });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    h = await startHarness({
      service: {
        alerts: { fillsSummaryMin: 0.05, kappaEpsilonMax: 0.5, cooldownSec: 0 },
        webhooks: [
          { url: `${receiver.url}/all`, timeoutMs: 2000, retries: 2 },
          {
            url: `${receiver.url}/flaky`,
            timeoutMs: 2000,
            retries: 3,
            events: ['start', 'fills-summary', 'control', 'stop'],
          },
          { url: `${receiver.url}/hang`, timeoutMs: 200, retries: 1 },
          { url: `${receiver.url}/slack`, timeoutMs: 2000, retries: 0, format: 'slack', events: ['control'] },
        ],
      },
    });
  });
  after(async () => {
    await h?.close();
    receiver?.server.closeAllConnections();
    receiver?.server.close();
  });

  test('start, fills summary, κε, control and stop notifications arrive as JSON POSTs, retried, filtered; a hanging receiver holds nothing up', async () => {
    const kinds = (path: string) => received.filter((r) => r.path === path).map((r) => r.body.type);
    await waitFor(() => kinds('/all').includes('start') || undefined, 'start notification');
    await waitFor(() => kinds('/all').includes('fills-summary') || undefined, 'a fills summary', 30_000);
    await waitFor(() => kinds('/all').includes('kappa-epsilon') || undefined, 'a κε alert', 30_000);
    const pause = await h.post('/api/v1/pause', { coin: 'ETH' });
    assert.equal(pause.status, 200);
    await waitFor(() => kinds('/slack').length > 0 || undefined, 'the slack-format control message');
    // The hanging receiver timed out (and was retried) while trading went on: fills kept coming.
    await waitFor(() => hangs >= 2 || undefined, 'the hanging receiver tried twice');
    await h.post('/api/v1/resume', { coin: 'ETH' });
    const fillsBefore = h.service.core.fills().fills.length;
    await waitFor(
      () => h.service.core.fills().fills.length > fillsBefore || undefined,
      'trading goes on',
      30_000,
    );
    const r = await h.post('/api/v1/stop');
    assert.equal(r.status, 200);
    await h.done;
    assert.ok(kinds('/all').includes('stop'), 'stop notification delivered before exit');

    const start = received.find((x) => x.path === '/all' && x.body.type === 'start')!.body;
    for (const k of ['bot', 'mode', 'type', 'id', 'time', 'kind', 'severity', 'coin', 'message', 'data'])
      assert.ok(k in start, k);
    assert.equal(start.bot, 'cjmm');
    assert.equal(start.mode, 'paper');
    const summary = received.find((x) => x.body.type === 'fills-summary')!.body;
    const per = (summary.data as { markets: Json[] }).markets[0];
    assert.equal(per.coin, 'ETH');
    assert.ok((per.fills as number) > 0);
    assert.equal((per.buys as number) + (per.sells as number), per.fills);
    // /flaky: every delivery needed a second attempt; it got only the kinds it asked for.
    const flaky = received.filter((x) => x.path === '/flaky');
    assert.ok(flaky.length >= 3);
    assert.ok(flaky.every((x) => x.attempt === 2));
    assert.ok(
      flaky.every((x) => ['start', 'fills-summary', 'control', 'stop'].includes(x.body.type as string)),
    );
    const slack = received.filter((x) => x.path === '/slack');
    assert.deepEqual(Object.keys(slack[0].body), ['text']);
    assert.match(slack[0].body.text as string, /ETH: pause \(by api\)/);
    // No webhook URL (which may hold a secret) in the logs.
    assert.ok(!h.logs.join('').includes(`${receiver.url}/hang`));
    assert.ok(h.logs.join('').includes('webhook: gave up'));
  });
});

describe('Telegram against a local Bot API stub', { skip: sharedSkip }, () => {
  const CHAT = '4242';
  const TOKEN = '123456:TEST-token_abc';
  const sent: { chat_id: string; text: string }[] = [];
  const pending: Json[] = [];
  let waiter: (() => void) | undefined;
  let nextId = 1;
  let polls = 0;
  let stub: { server: Server; url: string };
  let h: Harness;
  const push = (chatId: string, text: string) => {
    pending.push({
      update_id: nextId++,
      message: { message_id: nextId, chat: { id: Number(chatId) }, text },
    });
    waiter?.();
  };
  before(async () => {
    stub = await listen((req, body, res) => {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
      const reply = (x: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(x));
      if (!m || m[1] !== TOKEN) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"ok":false,"description":"Unauthorized"}');
        return;
      }
      const p = JSON.parse(body || '{}') as {
        offset?: number;
        timeout?: number;
        chat_id?: string;
        text?: string;
      };
      if (m[2] === 'sendMessage') {
        sent.push({ chat_id: String(p.chat_id), text: String(p.text) });
        reply({ ok: true, result: { message_id: sent.length } });
      } else if (m[2] === 'getUpdates') {
        polls++;
        const answer = () => {
          waiter = undefined;
          const ups = pending.filter((u) => (u.update_id as number) >= (p.offset ?? 0));
          pending.splice(0, pending.length, ...ups);
          reply({ ok: true, result: ups });
        };
        if (pending.some((u) => (u.update_id as number) >= (p.offset ?? 0))) answer();
        else {
          // Long poll: hold the request until an update comes or the timeout passes.
          const t = setTimeout(answer, Math.min(2, p.timeout ?? 0) * 1000);
          waiter = () => {
            clearTimeout(t);
            answer();
          };
          req.on('close', () => clearTimeout(t));
        }
      } else reply({ ok: false, description: 'unknown method' });
    });
    h = await startHarness({
      service: { telegram: { chatId: CHAT, apiUrl: stub.url, tokenEnv: 'CJMM_TEST_TG', pollTimeoutSec: 30 } },
      env: { CJMM_TEST_TG: TOKEN },
    });
  });
  after(async () => {
    await h?.close();
    stub?.server.closeAllConnections();
    stub?.server.close();
  });

  const answerTo = async (text: string, match: RegExp) => {
    const n = sent.length;
    push(CHAT, text);
    return waitFor(() => sent.slice(n).find((s) => match.test(s.text)), `an answer to ${text}`);
  };

  test('notifications go to the chat; /status /pnl /params /pause /resume /flatten /help answer; other chats are ignored; /stop stops', async () => {
    await waitFor(() => sent.find((s) => /cjmm paper started: ETH/.test(s.text)), 'the start notification');
    assert.ok(sent.every((s) => s.chat_id === CHAT));
    await waitFor(() => h.service.core.fills().fills.length > 0 || undefined, 'a fill', 30_000);
    const st = await answerTo('/status', /^cjmm paper, up/);
    assert.match(st.text, /ETH (ACTIVE|REDUCING|STALE): mid \d+/);
    assert.match(
      (await answerTo('/pnl', /^P&L/)).text,
      /ETH: [+-]\d+\.\d\d USD = realised .*; spread [+-]\d+\.\d\d adv [+-]\d+\.\d\d carry [+-]\d+\.\d\d fees/,
    );
    assert.match((await answerTo('/params@cjmm_bot', /λ\+/)).text, /ETH: λ\+ \d.*κε\+ \d/);
    assert.match((await answerTo('/pause XYZ', /XYZ/)).text, /'XYZ' is not traded here \(markets: ETH\)/);
    assert.notEqual(h.service.core.status().markets[0].state, 'paused', 'an unknown coin changes nothing');
    assert.match((await answerTo('/pause ETH', /ETH: pause →/)).text, /ETH: pause → PAUSED, 0 open orders/);
    assert.equal(h.service.core.status().markets[0].state, 'paused');
    await answerTo('/resume', /ETH: resume →/);
    assert.notEqual(h.service.core.status().markets[0].state, 'paused');
    // /flatten: reduce-only until flat (REDUCING), or PAUSED at once when already flat.
    const fl = await answerTo('/flatten eth', /ETH: flatten →/);
    assert.match(fl.text, /ETH: flatten → (REDUCING|PAUSED), \d+ open orders/);
    assert.ok(['reducing', 'paused'].includes(h.service.core.status().markets[0].state));
    await answerTo('/resume ETH', /ETH: resume →/);
    assert.notEqual(h.service.core.status().markets[0].state, 'paused');
    assert.match((await answerTo('/help', /cjmm commands/)).text, /\/flatten \[coin\]/);
    // A stranger's /stop does nothing and gets no answer.
    const n = sent.length;
    push('999', '/stop');
    push(CHAT, '/status');
    await waitFor(() => sent.slice(n).find((s) => /^cjmm paper, up/.test(s.text)), 'the next answer');
    assert.ok(sent.every((s) => s.chat_id === CHAT));
    assert.ok(h.service.port.running && !h.service.port.ended, 'still running after the stranger’s /stop');
    assert.ok(h.service.telegram!.stats.ignored >= 1);
    assert.ok(polls >= 3, 'long-polled getUpdates');
    await answerTo('/stop', /stopping/);
    const s = await h.done;
    assert.match(s.stopReason, /stop \(telegram\)/);
    assert.equal(s.restingAfterStop, 0);
    assert.ok(!h.logs.join('').includes(TOKEN), 'the bot token is never logged');
  });
});

test('delivery: send never waits; failures are retried with backoff, then given up and counted', async () => {
  let calls = 0;
  let release: (() => void) | undefined;
  const q = new DeliveryQueue({
    timeoutMs: 10_000,
    retries: 2,
    backoffMs: 1,
    attempt: (body) => {
      calls++;
      if ((body as { n: number }).n === 1) return new Promise<void>((r) => (release = r));
      return Promise.reject(new Error('refused'));
    },
  });
  q.send({ n: 1 });
  q.send({ n: 2 });
  assert.equal(q.stats.sent, 0, 'send returned while the first delivery is in flight');
  assert.equal(calls, 1);
  release?.();
  assert.equal(await q.flush(5000), true);
  assert.equal(q.stats.sent, 1);
  assert.equal(calls, 4, 'the second message: 1 attempt + 2 retries');
  assert.equal(q.stats.gaveUp, 1);
  assert.equal(q.stats.failedAttempts, 3);
  const small = new DeliveryQueue({
    timeoutMs: 1000,
    retries: 0,
    maxQueue: 2,
    attempt: () => new Promise(() => {}),
  });
  for (let i = 0; i < 5; i++) small.send({ i });
  assert.equal(small.stats.dropped, 2, 'the oldest waiting messages are dropped when the queue is full');
  small.close();
});
