/**
 * Loading the API (agent) wallet key for live trading. The key comes from a key file (refused unless only the
 * owner can read it) or an environment variable. Errors describe what is wrong with the key's SHAPE and never
 * include any of its characters; the loaded key is held in a closure-free object whose JSON and inspect forms
 * are redacted, so it cannot leak through logs by accident.
 */
import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';
import { isPrivate } from 'tiny-secp256k1';
import type { PrivateKeyAccount } from 'viem/accounts';
import { privateKeyToAccount } from 'viem/accounts';

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

const KEY_RE = /^0x[0-9a-fA-F]{64}$/;

export interface AgentKey {
  /** The agent wallet's address (safe to log). */
  readonly address: `0x${string}`;
  /** Where the key came from, for messages ("key file /path", "environment variable CJMM_PRIVATE_KEY"). */
  readonly source: string;
  /** The viem account used for signing. */
  readonly account: PrivateKeyAccount;
  /**
   * The raw key, for the venue's libsecp256k1 signer (src/venue/hyperliquid/execution/signer.ts).
   * Non-enumerable: absent from JSON, inspect and object spreads.
   */
  readonly privateKey?: `0x${string}`;
}

/** Describe a malformed key without revealing any of it. */
function shapeProblem(raw: string): string | undefined {
  const s = raw.trim();
  if (s.length === 0) return 'is empty';
  if (!s.startsWith('0x')) return `must start with 0x (0x + 64 hex digits; got ${s.length} characters)`;
  if (s.length !== 66) return `must be 0x + 64 hex digits (got 0x + ${s.length - 2} characters)`;
  if (!KEY_RE.test(s)) return 'must contain only hex digits after 0x';
  // libsecp256k1's own range check: a valid private key is in [1, n − 1].
  if (!isPrivate(Buffer.from(s.slice(2), 'hex'))) return 'is not a valid secp256k1 private key';
  return undefined;
}

function makeAgentKey(raw: string, source: string): AgentKey {
  const problem = shapeProblem(raw);
  if (problem) throw new KeyError(`the private key from ${source} ${problem}`);
  const account = privateKeyToAccount(raw.trim() as `0x${string}`);
  const key: AgentKey = { address: account.address, source, account };
  Object.defineProperty(key, 'privateKey', { value: raw.trim() as `0x${string}`, enumerable: false });
  // Never serialise the account (viem keeps no raw key on it, but be safe if that ever changes).
  Object.defineProperty(key, 'toJSON', {
    value: () => ({ address: key.address, source }),
    enumerable: false,
  });
  Object.defineProperty(key, inspect.custom, {
    value: () => `AgentKey(${key.address} from ${source})`,
    enumerable: false,
  });
  return key;
}

/** Read a key file, refusing one that group or others can read (the fix: `chmod 600 <file>`). */
export function loadKeyFile(path: string): AgentKey {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw new KeyError(`--key-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!st.isFile()) throw new KeyError(`--key-file: ${path} is not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new KeyError(
      `--key-file: ${path} is readable by group/others (mode ${mode}); run \`chmod 600 ${path}\` and retry`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyError(`--key-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return makeAgentKey(text, `key file ${path}`);
}

/** Read the key from an environment variable. */
export function loadKeyEnv(name: string, env: NodeJS.ProcessEnv = process.env): AgentKey {
  const v = env[name];
  if (v === undefined || v.trim() === '') {
    throw new KeyError(
      `live trading needs an API wallet key: set the environment variable ${name} or pass --key-file <file> (mode 600)`,
    );
  }
  return makeAgentKey(v, `environment variable ${name}`);
}

/** The key the account config points at: key file first, else the environment variable. */
export function loadAgentKey(
  account: { keyFile?: string; keyEnv: string },
  env: NodeJS.ProcessEnv = process.env,
): AgentKey {
  return account.keyFile !== undefined ? loadKeyFile(account.keyFile) : loadKeyEnv(account.keyEnv, env);
}

/** Build an AgentKey from a key already in memory (tests, `cjmm demo --live-protocol`'s throwaway key). */
export function agentKeyFromHex(hex: string, source = 'generated key'): AgentKey {
  return makeAgentKey(hex, source);
}

/** pino redaction paths: any field that could carry key material is censored wherever it appears. */
export const LOG_REDACT_PATHS = [
  'privateKey',
  'key',
  'secret',
  '*.privateKey',
  '*.key',
  '*.secret',
  'account.privateKey',
  'config.account.privateKey',
];
