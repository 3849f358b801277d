/**
 * Waiting for the rate budget (./limits.ts) before a request leaves: exchange actions wait until the budget lets
 * them go; info requests also retry after an HTTP 429, backing off as the budget says.
 */
import type { ExecutionContext } from './context.ts';
import { is429 } from './transport.ts';

/** A rate-limited request is retried this many times before the error goes to the caller. */
export const MAX_429_ATTEMPTS = 6;

/** Resolves when the budget allows an exchange action of `n` items (the caller then consumes it). */
export async function waitForActionBudget(
  ctx: Pick<ExecutionContext, 'budget' | 'clock'>,
  n: number,
  isCancel: boolean,
): Promise<void> {
  for (;;) {
    const w = ctx.budget.waitMs(n, isCancel, ctx.clock.now());
    if (w <= 0) return;
    await new Promise((r) => setTimeout(r, w));
  }
}

/** An info request of this weight, paced by the IP weight budget; a 429 backs off and retries. */
export async function infoCall<T>(
  ctx: Pick<ExecutionContext, 'budget' | 'clock' | 'stats'>,
  weight: number,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((resolve) => {
      const w = ctx.budget.infoWaitMs(weight, ctx.clock.now());
      if (w <= 0) resolve();
      else setTimeout(resolve, w);
    });
    ctx.budget.consumeInfo(weight, ctx.clock.now());
    try {
      const r = await fn();
      ctx.budget.onSuccess();
      return r;
    } catch (err) {
      if (is429(err) && attempt < MAX_429_ATTEMPTS) {
        ctx.stats.http429++;
        ctx.budget.on429(ctx.clock.now());
        continue;
      }
      throw err;
    }
  }
}
