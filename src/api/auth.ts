/**
 * The API's bearer token: `CJMM_API_TOKEN` when set, else a fresh random token written to a file only its
 * owner can read (mode 600; the file's PATH is logged, never the token). Tokens are compared in constant
 * time (SHA-256 of both sides, then timingSafeEqual, so even the length leaks nothing).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const TOKEN_ENV = 'CJMM_API_TOKEN';
const MIN_TOKEN_LENGTH = 16;

export interface ApiToken {
  token: string;
  source: 'env' | 'file';
  /** The file the generated token was written to. */
  path?: string;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The token from the environment, or a new one written to `path` (mode 600). */
export function resolveApiToken(path: string, env: NodeJS.ProcessEnv = process.env): ApiToken {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_TOKEN_LENGTH || /\s/.test(fromEnv)) {
      throw new TokenError(
        `${TOKEN_ENV}: must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. \`openssl rand -hex 32\`)`,
      );
    }
    return { token: fromEnv, source: 'env' };
  }
  const token = randomBytes(32).toString('base64url');
  mkdirSync(dirname(path), { recursive: true });
  // An existing file keeps its mode on write: make it private BEFORE the new token goes in.
  if (existsSync(path)) chmodSync(path, 0o600);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { token, source: 'file', path };
}

/** Read a token for a client (`cjmm status`): the environment, else the file (which must be mode 600). */
export function readApiToken(path: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv) return fromEnv;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if ((st.mode & 0o077) !== 0) {
    throw new TokenError(
      `${path}: readable by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    );
  }
  const t = readFileSync(path, 'utf8').trim();
  return t.length > 0 ? t : undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}
