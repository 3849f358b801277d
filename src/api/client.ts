/**
 * A small client of a running cjmm's API (`cjmm status`, `cjmm trade status --url`): status, markets and open
 * orders, and a text rendering of them. Distinguishes "nobody listens there" (fall back to the journal) from
 * "a cjmm answered but refused" (wrong token, an error).
 */
import type { StatusBody } from '../rpc/core.ts';
import type { MarketSnapshot, OrderView } from '../rpc/port.ts';

export interface ApiStatus {
  url: string;
  status: StatusBody;
  markets: MarketSnapshot[];
  orders: OrderView[];
}

export class ApiUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiUnreachable';
  }
}

export class ApiRefused extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiRefused';
    this.status = status;
  }
}

async function getJson(
  base: string,
  path: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<unknown> {
  let r: Response;
  try {
    r = await fetch(new URL(path, base), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    // fetch says "fetch failed"; the cause says why (ECONNREFUSED, bad port, a timeout).
    const c = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (err as Error).message ?? (err as Error).name;
    throw new ApiUnreachable(`no cjmm API at ${base} (${cause})`);
  }
  const body = (await r.json().catch(() => ({}))) as { message?: string };
  if (!r.ok) throw new ApiRefused(r.status, `${base}${path}: ${r.status} ${body.message ?? r.statusText}`);
  return body;
}

/** Status, full market snapshots and open orders of the cjmm at `url`. */
export async function fetchApiStatus(
  url: string,
  token: string | undefined,
  timeoutMs = 3000,
): Promise<ApiStatus> {
  const base = url.replace(/\/+$/, '');
  // Something else listening there (a 404, another server) is not a cjmm: the caller falls back to the journal.
  const health = (await getJson(base, '/health', undefined, timeoutMs).catch((err) => {
    if (err instanceof ApiRefused) return {};
    throw err;
  })) as { status?: string };
  if (health.status !== 'ok') throw new ApiUnreachable(`${base}/health did not answer like cjmm`);
  if (!token) {
    throw new ApiRefused(
      401,
      `a cjmm runs at ${base} but no token was found: set CJMM_API_TOKEN or pass --token-file`,
    );
  }
  const [status, markets, orders] = await Promise.all([
    getJson(base, '/api/v1/status', token, timeoutMs),
    getJson(base, '/api/v1/markets', token, timeoutMs),
    getJson(base, '/api/v1/orders', token, timeoutMs),
  ]);
  return {
    url: base,
    status: status as StatusBody,
    markets: (markets as { markets: MarketSnapshot[] }).markets,
    orders: (orders as { orders: OrderView[] }).orders,
  };
}

const f = (x: number | null | undefined, d: number) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—';
const px = (x: number | null | undefined) =>
  typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(8))) : '—';
const sgn = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

export function formatApiStatus(a: ApiStatus): string {
  const s = a.status;
  const up = Math.floor(s.uptimeSec);
  const out = [
    `running cjmm at ${a.url}: ${s.mode}, up ${Math.floor(up / 3600)}h ${Math.floor((up % 3600) / 60)}m ${up % 60}s`,
    `account: equity ${f(s.account.equity, 2)} USD, notional ${f(s.account.notional, 2)} USD, drawdown ${f(100 * s.account.drawdown, 2)}%, ${s.account.state.toUpperCase()}`,
  ];
  const full = new Map(a.markets.map((m) => [m.coin, m]));
  for (const m of s.markets) {
    const x = full.get(m.coin);
    out.push(
      `${m.coin} ${m.state.toUpperCase()}${x?.reason ? ` (${x.reason})` : ''}: mid ${px(m.mid)} | bid ${px(m.bid)} ask ${px(m.ask)} | position ${m.position}${x ? ` (${Math.round(m.position / x.lotSize)} of ±${x.maxPositionLots} lots)` : ''} | P&L ${sgn(m.pnl.total)} USD (realised ${sgn(m.pnl.realised)}, unrealised ${sgn(m.pnl.unrealised)}, fees ${f(m.pnl.fees, 4)})${x ? ` | fills ${x.fills}` : ''}`,
    );
    const a4 = m.pnlAttribution;
    if (a4) {
      const s4 = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
      // The status line's split (the engine's attribution), as `trade status` prints it from the journal.
      out.push(
        `  P&L attribution (USD): spread ${s4(a4.spreadCapture)} adv ${s4(a4.adverseSelection)} carry ${s4(a4.inventoryCarry)} fees ${s4(a4.fees)}${a4.funding !== 0 ? ` funding ${s4(a4.funding)}` : ''}`,
      );
    }
    const p = m.params;
    const pm = (k: keyof typeof p.stderr, d: number) =>
      p[k] === null ? '—' : `${f(p[k], d)}${p.stderr[k] !== null ? `±${f(p.stderr[k], d)}` : ''}`;
    out.push(
      `  λ+ ${pm('lambdaPlus', 3)} λ- ${pm('lambdaMinus', 3)} κ+ ${pm('kappaPlus', 2)} κ- ${pm('kappaMinus', 2)} ε+ ${pm('epsilonPlus', 4)} ε- ${pm('epsilonMinus', 4)} σ ${pm('sigma', 4)} | κε+ ${f(m.kappaEpsilon.plus, 3)} κε- ${f(m.kappaEpsilon.minus, 3)}`,
    );
  }
  out.push(`open orders: ${a.orders.length}`);
  for (const o of a.orders)
    out.push(`  ${o.coin} ${o.side} ${o.sz - o.filled} @ ${o.px} ${o.state} cloid ${o.cloid}`);
  return out.join('\n');
}
