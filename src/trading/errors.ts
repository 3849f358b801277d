/**
 * What a trading run refuses or fails with, in words a user can act on: SessionError (one line, the CLI exits
 * 1 with it), and the translation of "the exchange cannot be reached" (no network, DNS, refused, timed out)
 * into a message that points to the offline demo.
 */

export class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/**
 * The reason, when `err` says the exchange could not be reached at all (no network, DNS, refused, timed out),
 * from the innermost cause (fetch wraps the system error twice); undefined for any other failure.
 */
export function networkFailure(err: unknown): string | undefined {
  let found: string | undefined;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const x = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    const msg = typeof x.message === 'string' ? x.message : '';
    if (typeof x.code === 'string' && NETWORK_CODES.has(x.code)) found = msg || x.code;
    else if (x.name === 'TimeoutError' || /fetch failed|timed? ?out|socket hang up/i.test(msg)) found ??= msg;
    e = x.cause;
  }
  return found;
}

/** What a new user without network access reads instead of a bare connection error. */
export function unreachableMessage(url: string, reason: string): string {
  return (
    `cannot reach the exchange at ${url} (${reason}): check the network connection and the URL; ` +
    '`npx cjmm demo` runs the same job offline against a local replay of a recording'
  );
}
