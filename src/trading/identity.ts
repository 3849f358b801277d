/**
 * Who a trader is on a shared account: its cloid prefix. Every cloid of a live session is
 *   0x | tag (8 hex) | session (8 hex) | counter (16 hex)
 * The tag is the same for every session of one trader (config `cloidPrefix`, default derived from the coin and
 * the journal's absolute path: a restart on the same journal is the same trader), so start-up and stop clean-ups
 * touch only this trader's orders, from any of its sessions; the session part tells one run from the next (a
 * guard cancels exactly the orders of the session it watches).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

/** This trader's tag: '0x' + 8 lower-case hex digits. */
export function traderCloidTag(o: { cloidPrefix?: string; coin: string; journal: string }): string {
  if (o.cloidPrefix) return o.cloidPrefix.toLowerCase();
  const h = createHash('sha256')
    .update(`cjmm|${o.coin}|${resolve(o.journal)}`)
    .digest('hex');
  return `0x${h.slice(0, 8)}`;
}

/** The session's cloid prefix ('0x' + 16 hex digits): the trader's tag, then the start time in ms mod 2^32. */
export function sessionCloidPrefix(tag: string, startedAt: number): string {
  const session = (Math.floor(startedAt) % 2 ** 32).toString(16).padStart(8, '0');
  return `${tag}${session}`;
}
