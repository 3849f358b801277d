/**
 * Funding history from Hyperliquid's public info API: POST {type: 'fundingHistory', coin, startTime, endTime}
 * answers at most 500 settlements, oldest first, as {coin, fundingRate, premium, time}; page by asking again
 * from the last time + 1 until a short page or the end of the range.
 */
import type { FundingRow } from '../store/index.ts';

export const DEFAULT_INFO_URL = 'https://api.hyperliquid.xyz/info';
const PAGE_LIMIT = 500;

export class FundingApiError extends Error {}

interface WireFunding {
  coin?: unknown;
  fundingRate?: unknown;
  premium?: unknown;
  time?: unknown;
}

async function post(url: string, body: unknown, attempts = 5): Promise<unknown> {
  for (let i = 1; ; i++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      if (i >= attempts) throw new FundingApiError(`cannot reach ${url}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
      continue;
    }
    if (res.ok) return res.json();
    const text = await res.text();
    // Rate limited or a transient server error: back off and retry.
    if ((res.status === 429 || res.status >= 500) && i < attempts) {
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
      continue;
    }
    throw new FundingApiError(`${url} answered ${res.status} to fundingHistory: ${text.slice(0, 200)}`);
  }
}

/** Every funding settlement of `coin` with time in [from, to), paged. `onPage` sees each page's row count. */
export async function fetchFundingHistory(
  coin: string,
  from: number,
  to: number,
  opts: { infoUrl?: string; onPage?: (rows: number) => void } = {},
): Promise<{ rows: FundingRow[]; malformed: number; pages: number }> {
  const url = opts.infoUrl ?? DEFAULT_INFO_URL;
  const rows: FundingRow[] = [];
  let malformed = 0;
  let pages = 0;
  let start = from;
  while (start < to) {
    const page = await post(url, { type: 'fundingHistory', coin, startTime: start, endTime: to - 1 });
    pages++;
    if (!Array.isArray(page))
      throw new FundingApiError(`${url} fundingHistory for ${coin}: expected an array, got ${typeof page}`);
    opts.onPage?.(page.length);
    let last = Number.NaN;
    for (const w of page as WireFunding[]) {
      const time = typeof w?.time === 'number' ? w.time : Number.NaN;
      const fundingRate = Number(w?.fundingRate);
      const premium = w?.premium === undefined ? Number.NaN : Number(w.premium);
      if (!Number.isFinite(time) || !Number.isFinite(fundingRate) || w?.coin !== coin) {
        malformed++;
        continue;
      }
      if (!(Number.isNaN(last) || time >= last)) {
        malformed++;
        continue;
      }
      last = time;
      if (time >= from && time < to) rows.push({ coin, time, fundingRate, premium });
    }
    if (page.length < PAGE_LIMIT || Number.isNaN(last)) break;
    start = last + 1;
  }
  return { rows, malformed, pages };
}
