/**
 * Polls `check` until it returns something other than undefined/false; rejects after `timeoutMs`.
 * `what` may be a function, evaluated at the timeout, to show the state the wait ended in.
 */
export function waitFor<T>(
  check: () => T | undefined | false,
  what: string | (() => string),
  timeoutMs = 15_000,
): Promise<Exclude<T, false>> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined && v !== false) return resolve(v as Exclude<T, false>);
      if (Date.now() - t0 > timeoutMs)
        return reject(new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}
