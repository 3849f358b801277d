/**
 * One trader per API wallet: a lock per (signer address, exchange endpoint), held for the life of a live
 * session. Two processes signing with one key clash on nonces (the exchange keeps only the highest few per
 * signer: two actions in the same millisecond, or one slightly behind, are refused) and each one's start-up
 * clean-up would see the other's orders.
 *
 * The lock is a listening Unix socket, so the kernel releases it when the process dies in any way (kill -9,
 * OOM): nothing stale is ever left to clean up. On Linux it lives in the abstract namespace (no file at all);
 * elsewhere it is a socket file in the temp directory, and a file nobody answers on is stale and replaced.
 * A second trader connects to it and reads who holds it (pid, coin, journal, start time), which the error
 * names. Scope: processes of one host (one network namespace: containers with their own network do not see
 * each other's locks) — across hosts, one API wallet per process is the operator's rule (docs/trading.md).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the holder tells a second trader. */
export interface SignerLockHolder {
  pid: number;
  host: string;
  coin: string;
  journal: string;
  startedAt: number;
}

export class SignerLockError extends Error {
  readonly holder: SignerLockHolder | undefined;
  constructor(message: string, holder?: SignerLockHolder) {
    super(message);
    this.name = 'SignerLockError';
    this.holder = holder;
  }
}

export interface SignerLock {
  /** The socket name (abstract names start with NUL). */
  readonly name: string;
  release(): Promise<void>;
}

/** The lock's socket name for a signer on an exchange endpoint. */
export function signerLockName(signer: string, endpoint: string, platform = process.platform): string {
  const h = createHash('sha256').update(endpoint).digest('hex').slice(0, 12);
  const base = `cjmm-signer-${signer.toLowerCase()}-${h}`;
  if (platform === 'linux') return `\0${base}`;
  const dir = join(tmpdir(), 'cjmm-locks');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${base}.sock`);
}

/** Ask the holder of `name` who it is; undefined when nobody answers (a stale socket file). */
function askHolder(name: string, timeoutMs = 2000): Promise<SignerLockHolder | undefined> {
  return new Promise((resolve) => {
    const sock = connect(name);
    let text = '';
    const done = (h: SignerLockHolder | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      text += d;
    });
    sock.on('end', () => {
      try {
        done(JSON.parse(text) as SignerLockHolder);
      } catch {
        done({ pid: -1, host: '?', coin: '?', journal: '?', startedAt: 0 });
      }
    });
    sock.on('error', () => done(undefined));
  });
}

function listen(server: Server, name: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => resolve(err);
    server.once('error', onError);
    server.listen(name, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

/**
 * Take the lock of `signer` on `endpoint`, or throw SignerLockError naming the process that holds it.
 * `info` is what a second trader is told. The lock does not keep the process alive.
 */
export async function acquireSignerLock(o: {
  signer: string;
  endpoint: string;
  coin: string;
  journal: string;
  startedAt?: number;
}): Promise<SignerLock> {
  const name = signerLockName(o.signer, o.endpoint);
  const me: SignerLockHolder = {
    pid: process.pid,
    host: hostname(),
    coin: o.coin,
    journal: o.journal,
    startedAt: o.startedAt ?? Date.now(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = createServer((sock) => sock.end(JSON.stringify(me)));
    const err = await listen(server, name);
    if (!err) {
      server.unref();
      let released = false;
      return {
        name,
        release: () =>
          new Promise<void>((resolve) => {
            if (released) return resolve();
            released = true;
            server.close(() => resolve());
          }),
      };
    }
    if (err.code !== 'EADDRINUSE') {
      throw new SignerLockError(`cannot take the API wallet lock (${err.code ?? err.message})`);
    }
    const holder = await askHolder(name);
    if (holder) {
      const since = holder.startedAt ? new Date(holder.startedAt).toISOString() : '?';
      throw new SignerLockError(
        `API wallet ${o.signer} is already trading on ${o.endpoint} in pid ${holder.pid}` +
          ` (${holder.coin}, journal ${holder.journal}, since ${since}). One API wallet per process: ` +
          'approve another API wallet for this account (or stop that trader) — two processes on one key clash on nonces',
        holder,
      );
    }
    // A socket file nobody answers on: its process died. Replace it (file-based locks only).
    if (!name.startsWith('\0')) {
      try {
        unlinkSync(name);
      } catch {
        // gone already
      }
    }
  }
  throw new SignerLockError(`cannot take the API wallet lock at ${name}: in use`);
}
