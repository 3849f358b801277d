/**
 * A throwaway redis-server for tests: on a free local port, data in a temp dir, no persistence; stopped by
 * `stop()`. Tests that need it skip with a clear message when redis-server is not installed (.ci/run
 * installs Debian's package).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasRedis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
export const redisSkip: string | false = hasRedis
  ? false
  : 'redis-server not found (apt-get install -y redis-server); skipping the distributed hyperopt tests';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = new Socket();
    sock.setTimeout(500);
    sock.once('error', () => res(false));
    sock.once('timeout', () => {
      sock.destroy();
      res(false);
    });
    sock.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      res(d.toString().startsWith('+PONG'));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-redis-'));
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    if (await ping(port)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
