/**
 * Starting the guard from a live trader: `cjmm guard --session <start>` as a DETACHED process (its own session
 * and process group, so killing the trader's process group, an OOM kill or a closed terminal leave it running),
 * logging to <journal>.guard.log. The key reaches it through its environment only (never argv, which `ps`
 * shows). The trader then waits briefly for the guard's report that it is watching.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type GuardReport, guardLogPath, guardReportPath, heartbeatPath, readJson } from './heartbeat.ts';
import type { AgentKey } from './keys.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
/** The environment variable the spawned guard reads its key from. */
export const GUARD_KEY_ENV = 'CJMM_GUARD_KEY';

export interface SpawnedGuard {
  pid: number;
  log: string;
}

export function spawnGuard(o: { journal: string; session: number; key: AgentKey }): SpawnedGuard {
  if (!o.key.privateKey) throw new Error('the guard needs the raw API wallet key');
  const log = guardLogPath(o.journal);
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--log-json',
        'guard',
        '--heartbeat',
        heartbeatPath(o.journal),
        '--session',
        String(o.session),
        '--key-env',
        GUARD_KEY_ENV,
      ],
      {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, [GUARD_KEY_ENV]: o.key.privateKey },
      },
    );
    child.unref();
    if (child.pid === undefined) throw new Error('the guard process did not start');
    return { pid: child.pid, log };
  } finally {
    closeSync(fd);
  }
}

/** The guard's report about this session, if it has written one. */
export function readGuardReport(journal: string): GuardReport | undefined {
  return readJson<GuardReport>(guardReportPath(journal));
}

/** Wait (bounded) until a guard reports it watches `session`. */
export async function waitForGuard(
  journal: string,
  session: number,
  timeoutMs: number,
): Promise<GuardReport | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = readGuardReport(journal);
    if (r && r.state === 'watching' && r.sessionStartedAt === session) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return undefined;
}
