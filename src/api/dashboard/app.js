/*
 * The cjmm dashboard: loads the history once (status, markets, quotes, P&L, parameter history, fills, orders,
 * alerts), then follows the live stream (server-sent events): a `status` event every second carries the
 * numbers and one sample of every market's series; `fill`, `params`, `quote`, `risk` and `alert` events
 * arrive as they happen. Charts are uPlot (served from the npm package; no CDN).
 */
(() => {
  const API = '/api/v1';
  const MAX_ROWS = 5000;
  const COLORS = {
    mid: '#d8dee6',
    bid: '#2fb36b',
    ask: '#e0565b',
    plus: '#e0565b',
    minus: '#2fb36b',
    blue: '#4a9eff',
    amber: '#e0a43a',
    violet: '#a57cf0',
  };
  const markets = new Map();
  let kappaEpsilonMax = 2;
  let lastStatusAt = 0;
  const dash = { ready: false, markets, events: 0, statusEvents: 0 };
  window.cjmmDashboard = dash;

  const $ = (sel, root = document) => root.querySelector(sel);
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const fmt = (x, d = 2) => (isNum(x) ? x.toFixed(d) : '—');
  // A size without float noise (a partial paper fill can be 0.0019000000000000006).
  const qty = (x) => (isNum(x) ? String(Number(x.toPrecision(10))) : '—');
  const signed = (x, d = 2) => (isNum(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(d)}` : '—');
  const px = (x) => (isNum(x) ? Number(x.toPrecision(8)).toString() : '—');
  const hhmmss = (ms) => new Date(ms).toISOString().slice(11, 19);

  async function api(path, init) {
    const r = await fetch(API + path, { credentials: 'same-origin', ...init });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.message || `${r.status} ${r.statusText}`);
    return body;
  }

  /** Rows of equal-length columns kept sorted by time (column 0, seconds), at most MAX_ROWS. */
  class Table {
    constructor(width) {
      this.cols = Array.from({ length: width }, () => []);
    }
    get length() {
      return this.cols[0].length;
    }
    add(row) {
      const xs = this.cols[0];
      let i = xs.length;
      while (i > 0 && xs[i - 1] > row[0]) i--;
      for (let c = 0; c < this.cols.length; c++) this.cols[c].splice(i, 0, row[c] ?? null);
      if (xs.length > MAX_ROWS) for (const col of this.cols) col.splice(0, xs.length - MAX_ROWS);
    }
  }

  function makeChart(el, series, bands) {
    const width = Math.max(300, el.clientWidth - 8);
    const opts = {
      width,
      height: 180,
      scales: { x: { time: true } },
      axes: [
        { stroke: '#8a96a3', grid: { stroke: '#222a33' } },
        { stroke: '#8a96a3', grid: { stroke: '#222a33' }, size: 60 },
      ],
      series: [{}, ...series],
      legend: { live: false },
    };
    if (bands) opts.bands = bands;
    const table = new Table(series.length + 1);
    const u = new uPlot(opts, table.cols, el);
    return { u, table, dirty: false };
  }

  const line = (label, stroke, extra = {}) => ({
    label,
    stroke,
    width: 1.5,
    spanGaps: true,
    points: { show: false },
    ...extra,
  });
  const dots = (label, fill) => ({
    label,
    stroke: fill,
    width: 0,
    paths: () => null,
    points: { show: true, size: 9, fill, stroke: fill },
  });
  const band = (label, stroke) => line(label, stroke, { width: 0.5, dash: [3, 3] });
  const paramChart = (el, name, unitDigits) => {
    const c = makeChart(
      el,
      [
        line(`${name}+`, COLORS.plus),
        line(`${name}-`, COLORS.minus),
        band(`${name}+ −SE`, COLORS.plus),
        band(`${name}+ +SE`, COLORS.plus),
        band(`${name}- −SE`, COLORS.minus),
        band(`${name}- +SE`, COLORS.minus),
      ],
      [
        { series: [4, 3], fill: 'rgba(224,86,91,0.15)' },
        { series: [6, 5], fill: 'rgba(47,179,107,0.15)' },
      ],
    );
    c.digits = unitDigits;
    return c;
  };

  class MarketView {
    constructor(snap) {
      this.coin = snap.coin;
      this.lotSize = snap.lotSize;
      this.maxLots = snap.maxPositionLots;
      const node = $('#market-template').content.firstElementChild.cloneNode(true);
      node.dataset.coin = snap.coin;
      $('.coin', node).textContent = snap.coin;
      for (const b of node.querySelectorAll('button[data-action]')) b.dataset.coin = snap.coin;
      $('#markets').appendChild(node);
      this.el = node;
      const at = (n) => $(`[data-chart="${n}"]`, node);
      this.charts = {
        price: makeChart(at('price'), [
          line('mid', COLORS.mid),
          line('our bid', COLORS.bid),
          line('our ask', COLORS.ask),
          dots('buys', COLORS.bid),
          dots('sells', COLORS.ask),
        ]),
        inventory: makeChart(at('inventory'), [
          line('lots', COLORS.blue, { width: 2 }),
          line('max', '#7a3336', { dash: [4, 4] }),
          line('min', '#7a3336', { dash: [4, 4] }),
        ]),
        // The engine's attribution, the status line's numbers: the five parts sum to the total.
        pnl: makeChart(at('pnl'), [
          line('total', COLORS.mid, { width: 2 }),
          line('spread capture', COLORS.bid),
          line('adverse selection', COLORS.violet),
          line('inventory carry', COLORS.blue),
          line('funding', COLORS.amber),
          line('−fees', COLORS.ask),
        ]),
        lambda: paramChart(at('lambda'), 'λ', 3),
        kappa: paramChart(at('kappa'), 'κ', 2),
        epsilon: paramChart(at('epsilon'), 'ε', 4),
      };
      this.update(snap);
    }

    sample(p) {
      const t = p.time / 1000;
      this.charts.price.table.add([t, p.mid, p.bid, p.ask, null, null]);
      const lots = isNum(p.position) ? p.position / this.lotSize : null;
      this.charts.inventory.table.add([t, lots, this.maxLots, -this.maxLots]);
      const fees = isNum(p.fees) ? -p.fees : null;
      this.charts.pnl.table.add([
        t,
        p.total,
        p.spreadCapture,
        p.adverseSelection ?? null,
        p.inventoryCarry ?? null,
        p.funding ?? null,
        fees,
      ]);
      this.charts.price.dirty = this.charts.inventory.dirty = this.charts.pnl.dirty = true;
    }

    fill(f) {
      this.charts.price.table.add([
        f.time / 1000,
        null,
        null,
        null,
        f.side === 'bid' ? f.px : null,
        f.side === 'ask' ? f.px : null,
      ]);
      this.charts.price.dirty = true;
    }

    params(p) {
      const t = p.time / 1000;
      const row = (a, b) => {
        const v = p.values;
        const s = p.stderr;
        const lo = (k) => (isNum(v[k]) && isNum(s[k]) ? v[k] - s[k] : null);
        const hi = (k) => (isNum(v[k]) && isNum(s[k]) ? v[k] + s[k] : null);
        return [t, v[a], v[b], lo(a), hi(a), lo(b), hi(b)];
      };
      this.charts.lambda.table.add(row('lambdaPlus', 'lambdaMinus'));
      this.charts.kappa.table.add(row('kappaPlus', 'kappaMinus'));
      this.charts.epsilon.table.add(row('epsilonPlus', 'epsilonMinus'));
      this.charts.lambda.dirty = this.charts.kappa.dirty = this.charts.epsilon.dirty = true;
    }

    update(m) {
      const e = this.el;
      const st = $('.state', e);
      st.textContent = m.state;
      st.className = `state badge state-${m.state}`;
      if (m.reason !== undefined) $('.reason', e).textContent = m.reason;
      $('.mid', e).textContent = px(m.mid);
      $('.bid', e).textContent = px(m.bid);
      $('.ask', e).textContent = px(m.ask);
      $('.position', e).textContent = `${fmt(m.position, 4)} (${fmt(m.position / this.lotSize, 0)} lots)`;
      $('.pnl-total', e).textContent = signed(m.pnl.total);
      $('.pnl-realised', e).textContent = signed(m.pnl.realised);
      $('.pnl-unrealised', e).textContent = signed(m.pnl.unrealised);
      $('.pnl-fees', e).textContent = fmt(m.pnl.fees, 4);
      const a = m.pnlAttribution;
      if (a) {
        $('.pnl-spread', e).textContent = signed(a.spreadCapture);
        $('.pnl-adverse', e).textContent = signed(a.adverseSelection);
        $('.pnl-carry', e).textContent = signed(a.inventoryCarry);
      }
      if (m.fills !== undefined) $('.fills', e).textContent = String(m.fills);
      for (const side of ['plus', 'minus']) {
        const g = $(`.gauge[data-side="${side}"]`, e);
        const v = m.kappaEpsilon[side];
        const scale = Math.max(kappaEpsilonMax * 1.5, isNum(v) ? v * 1.1 : 0, 1);
        $('i', g).style.width = `${isNum(v) ? Math.min(100, (100 * v) / scale) : 0}%`;
        $('s', g).style.left = `${(100 * kappaEpsilonMax) / scale}%`;
        $('b', g).textContent = fmt(v, 3);
        g.classList.toggle('hot', isNum(v) && v > kappaEpsilonMax);
      }
      const p = m.params;
      if (p) {
        const pm = (k, d) => `${fmt(p[k], d)}±${fmt(p.stderr[k], d)}`;
        $('.params-now', e).textContent =
          `λ+ ${pm('lambdaPlus', 3)} λ- ${pm('lambdaMinus', 3)} κ+ ${pm('kappaPlus', 2)} κ- ${pm('kappaMinus', 2)} ε+ ${pm('epsilonPlus', 4)} ε- ${pm('epsilonMinus', 4)} σ ${fmt(p.sigma, 4)}`;
      }
    }

    draw() {
      for (const c of Object.values(this.charts)) {
        if (!c.dirty) continue;
        c.dirty = false;
        c.u.setData(c.table.cols);
      }
    }
  }

  function renderAccount(s) {
    $('#mode').textContent = s.mode;
    $('#acct-equity').textContent = `${fmt(s.account.equity)} USD`;
    $('#acct-notional').textContent = `${fmt(s.account.notional)} USD`;
    $('#acct-drawdown').textContent = `${fmt(100 * s.account.drawdown, 2)} %`;
    const st = $('#acct-state');
    st.textContent = s.account.state;
    st.className = `state state-${s.account.state}`;
    const total = s.markets.reduce((a, m) => a + (isNum(m.pnl.total) ? m.pnl.total : 0), 0);
    $('#acct-pnl').textContent = `${signed(total)} USD`;
    const up = Math.floor(s.uptimeSec);
    $('#uptime').textContent = `${Math.floor(up / 3600)}h ${Math.floor((up % 3600) / 60)}m ${up % 60}s`;
  }

  function onStatus(s) {
    renderAccount(s);
    for (const m of s.markets) markets.get(m.coin)?.update(m);
  }

  const fillRows = [];
  function addFillRow(f) {
    fillRows.push(f);
    if (fillRows.length > 50) fillRows.shift();
    const body = $('#fills tbody');
    body.textContent = '';
    for (const x of [...fillRows].reverse()) {
      const tr = document.createElement('tr');
      const edge = isNum(x.mid) ? (x.side === 'bid' ? x.mid - x.px : x.px - x.mid) * x.sz : null;
      const cells = [
        hhmmss(x.time),
        x.coin,
        x.side === 'bid' ? 'buy' : 'sell',
        px(x.px),
        qty(x.sz),
        fmt(x.fee, 4),
        signed(edge, 4),
        qty(x.position),
      ];
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.appendChild(td);
      }
      tr.className = x.side === 'bid' ? 'buy' : 'sell';
      body.appendChild(tr);
    }
  }

  function addAlert(a) {
    const li = document.createElement('li');
    li.className = `sev-${a.severity}`;
    const t = document.createElement('time');
    t.textContent = hhmmss(a.time);
    li.append(t, `${a.kind}: ${a.message}`);
    const ul = $('#alerts');
    ul.prepend(li);
    while (ul.children.length > 100) ul.lastChild.remove();
  }

  let ordersTimer;
  function refreshOrdersSoon() {
    if (ordersTimer) return;
    ordersTimer = setTimeout(async () => {
      ordersTimer = undefined;
      try {
        renderOrders(await api('/orders'));
      } catch {
        /* the next event retries */
      }
    }, 1000);
  }
  function renderOrders(o) {
    const fill = (sel, rows) => {
      const body = $(`${sel} tbody`);
      body.textContent = '';
      for (const cells of rows) {
        const tr = document.createElement('tr');
        for (const c of cells) {
          const td = document.createElement('td');
          td.textContent = c;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
    };
    fill(
      '#orders',
      o.orders.map((x) => [x.coin, x.side, px(x.px), qty(x.sz - x.filled), x.state]),
    );
    fill(
      '#actions',
      o.recent
        .slice(-30)
        .reverse()
        .map((x) => [
          hhmmss(x.time),
          x.coin,
          x.action,
          String(x.detail.side ?? ''),
          isNum(x.detail.px) ? px(x.detail.px) : '',
          String(x.detail.reason ?? ''),
        ]),
    );
  }

  async function control(action, coin) {
    const what = coin ? `${action} ${coin}` : `${action} ALL markets`;
    const warn = {
      pause: 'Quotes are cancelled until you resume.',
      resume: 'Quoting starts again.',
      flatten: 'Only the side that reduces the position is quoted until flat, then the market pauses.',
      stop: 'Every order is cancelled and the process exits.',
    }[action];
    const dlg = $('#confirm');
    $('#confirm-text').textContent = `${what}? ${warn}`;
    dlg.returnValue = '';
    dlg.showModal();
    await new Promise((r) => dlg.addEventListener('close', r, { once: true }));
    if (dlg.returnValue !== 'ok') return;
    try {
      const r = await api(`/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cjmm-source': 'dashboard' },
        body: JSON.stringify(coin ? { coin } : {}),
      });
      for (const m of r.markets) {
        const v = markets.get(m.coin);
        if (v) {
          const st = $('.state', v.el);
          st.textContent = m.state;
          st.className = `state badge state-${m.state}`;
        }
      }
    } catch (err) {
      addAlert({
        time: Date.now(),
        severity: 'critical',
        kind: 'control',
        message: `${what} failed: ${err.message}`,
      });
    }
  }

  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (b) control(b.dataset.action, b.dataset.coin || undefined);
  });

  function connect() {
    const es = new EventSource(`${API}/stream`);
    es.addEventListener('open', () => {
      $('#conn').textContent = 'live';
      $('#conn').className = 'tag conn-on';
    });
    es.addEventListener('error', () => {
      $('#conn').textContent = 'reconnecting';
      $('#conn').className = 'tag conn-off';
    });
    const on = (type, fn) =>
      es.addEventListener(type, (m) => {
        dash.events++;
        fn(JSON.parse(m.data));
      });
    on('status', (e) => {
      dash.statusEvents++;
      lastStatusAt = Date.now();
      onStatus(e.status);
      for (const m of e.markets ?? []) markets.get(m.coin)?.update(m);
      for (const p of e.samples ?? []) markets.get(p.coin)?.sample(p);
    });
    on('fill', (f) => {
      markets.get(f.coin)?.fill(f);
      addFillRow(f);
      refreshOrdersSoon();
    });
    on('params', (p) => markets.get(p.coin)?.params(p));
    on('quote', (q) => {
      const v = markets.get(q.coin);
      if (v) {
        $('.bid', v.el).textContent = px(q.bid);
        $('.ask', v.el).textContent = px(q.ask);
        $('.mid', v.el).textContent = px(q.mid);
      }
      refreshOrdersSoon();
    });
    on('risk', (r) => {
      const v = markets.get(r.coin);
      if (v) {
        const st = $('.state', v.el);
        st.textContent = r.state;
        st.className = `state badge state-${r.state}`;
        $('.reason', v.el).textContent = r.reason;
      }
    });
    on('alert', (a) => addAlert(a.alert));
    on('control', () => refreshOrdersSoon());
  }

  function frame() {
    for (const v of markets.values()) v.draw();
    if (lastStatusAt && Date.now() - lastStatusAt > 5000) {
      $('#conn').textContent = 'no data';
      $('#conn').className = 'tag conn-off';
    }
    setTimeout(() => requestAnimationFrame(frame), 250);
  }

  async function start() {
    const [status, mk] = await Promise.all([api('/status'), api('/markets')]);
    kappaEpsilonMax = mk.kappaEpsilonMax;
    for (const s of mk.markets) markets.set(s.coin, new MarketView(s));
    await Promise.all(
      [...markets.values()].map(async (v) => {
        const q = encodeURIComponent(v.coin);
        const [quotes, pnl, params, fills] = await Promise.all([
          api(`/quotes?coin=${q}`),
          api(`/pnl?coin=${q}`),
          api(`/params/history?coin=${q}`),
          api(`/fills?coin=${q}&limit=1000`),
        ]);
        for (let i = 0; i < pnl.points.length; i++) v.sample({ ...quotes.points[i], ...pnl.points[i] });
        for (const p of params.points) v.params(p);
        for (const f of fills.fills) v.fill(f);
        for (const f of fills.fills.slice(-50)) addFillRow(f);
      }),
    );
    onStatus(status);
    renderOrders(await api('/orders'));
    for (const a of (await api('/alerts')).alerts) addAlert(a);
    connect();
    frame();
    dash.ready = true;
  }

  start().catch((err) => {
    document.body.insertAdjacentHTML('afterbegin', '<p class="sev-critical" id="load-error"></p>');
    $('#load-error').textContent = `dashboard failed to load: ${err.message}`;
  });
})();
