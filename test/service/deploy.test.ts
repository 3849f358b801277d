/**
 * The deployment files agree with the CLI, the config schema and package.json (Docker cannot run on the build
 * machine, so this is what can be checked): every command line in the Dockerfile, compose.yaml and the systemd
 * units parses with the real `cjmm` commands; deploy/cjmm.json is a valid service config whose journal and store
 * sit on the image's volumes and whose API port is the one exposed, published and health-checked.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { parseServiceConfig } from '../../src/service/config.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');

/** Parses `args` with the real command module (its action replaced by a no-op); throws on a usage error. */
async function parsesWithCli(args: string[]): Promise<void> {
  const name = args[0];
  const file = join(REPO_ROOT, 'src', 'cli', 'commands', `${name}.ts`);
  assert.ok(existsSync(file), `cjmm ${name}: no such command`);
  const mod = (await import(file)) as { register: (p: Command) => void };
  const program = new Command().name('cjmm').exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  mod.register(program);
  const cmd = program.commands.find((c) => c.name() === name);
  assert.ok(cmd, `cjmm ${name} is registered by its module`);
  const silence = (c: Command) => {
    c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    c.action(() => {});
    for (const s of c.commands) silence(s);
  };
  silence(cmd);
  await program.parseAsync(args, { from: 'user' });
}

/** The arguments after `src/cli/main.ts` in a shell-like command line. */
const cliArgs = (line: string): string[] => {
  const words = line.trim().split(/\s+/);
  const i = words.findIndex((w) => w.endsWith('src/cli/main.ts'));
  assert.ok(i >= 0, `${line}: runs src/cli/main.ts`);
  return words.slice(i + 1);
};

test('the CLI refuses what the deployment checks rely on (the checker can fail)', async () => {
  await assert.rejects(parsesWithCli(['serve', '--no-such-flag']), /unknown option/);
  await assert.rejects(parsesWithCli(['serve', '--config']), /argument missing/);
  await parsesWithCli(['serve', '--config', 'x.json']);
});

test('Dockerfile: Node 24 slim (the pinned node), non-root, /data and /journal volumes, serve by default', async () => {
  const df = read('Dockerfile');
  const pkg = JSON.parse(read('package.json')) as {
    devDependencies: Record<string, string>;
    scripts: Record<string, string>;
  };
  const nodeMajor = pkg.devDependencies.node.split('.')[0];
  const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length > 0);
  for (const f of froms) assert.equal(f, `node:${nodeMajor}-slim`, `${f}: the Node major package.json pins`);
  const user = /^USER\s+(\S+)/m.exec(df)?.[1];
  assert.ok(user && user !== 'root' && user !== '0', 'runs as a non-root user');
  const volumes = JSON.parse(/^VOLUME\s+(\[.*\])/m.exec(df)![1]) as string[];
  assert.deepEqual([...volumes].sort(), ['/data', '/journal']);
  const entry = JSON.parse(/^ENTRYPOINT\s+(\[.*\])/m.exec(df)![1]) as string[];
  assert.deepEqual(entry, ['node', 'src/cli/main.ts']);
  assert.equal(pkg.scripts.start, 'node src/cli/main.ts trade', 'npm start: the newcomer’s path');
  const cmd = JSON.parse(/^CMD\s+(\[.*\])/m.exec(df)![1]) as string[];
  assert.equal(cmd[0], 'serve');
  await parsesWithCli(cmd);
  // The image copies what main.ts needs at run time.
  for (const dir of ['src', 'config']) assert.match(df, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
  assert.match(df, /^EXPOSE 8787$/m);
  assert.match(df, /127\.0\.0\.1:8787\/health/, 'the health check asks /health on the exposed port');
});

test('deploy/cjmm.json: a valid service config; journal and store on the volumes; API on the exposed port', () => {
  const raw = JSON.parse(read('deploy/cjmm.json')) as Record<string, unknown>;
  const c = parseServiceConfig(raw);
  assert.ok(posix.dirname(c.trading.journal).startsWith('/journal'), c.trading.journal);
  assert.ok(c.service.record.store.startsWith('/data'), c.service.record.store);
  assert.equal(c.service.api.port, 8787);
  assert.equal(
    c.service.api.host,
    '0.0.0.0',
    'inside the container; compose publishes it on the host loopback',
  );
  assert.equal(
    c.trading.guard,
    false,
    'the guard is its own service (compose profile live, cjmm-guard.service)',
  );
  // Same strategy as the newcomer's default config (the deployment is not a different bot).
  const def = JSON.parse(read('config/default.json')) as { strategy: unknown };
  assert.deepEqual(raw.strategy, def.strategy);
});

test('compose.yaml: every command parses with the CLI; the config is mounted where serve reads it', async () => {
  const compose = read('compose.yaml');
  const commands = [...compose.matchAll(/^\s+command:\s+(\[.*\])\s*$/gm)].map(
    (m) => JSON.parse(m[1]) as string[],
  );
  assert.deepEqual(commands.map((c) => c[0]).sort(), ['guard', 'redis-server', 'serve', 'worker']);
  for (const c of commands) if (c[0] !== 'redis-server') await parsesWithCli(c);
  const serve = commands.find((c) => c[0] === 'serve')!;
  const config = serve[serve.indexOf('--config') + 1];
  const mount = new RegExp(`^\\s+- \\./(\\S+):${config.replace(/\./g, '\\.')}:ro$`, 'm').exec(compose);
  assert.ok(mount, `${config} is mounted`);
  assert.ok(existsSync(join(REPO_ROOT, mount[1])), `${mount[1]} exists`);
  assert.match(compose, /"127\.0\.0\.1:8787:8787"/, 'published on the host loopback only');
  assert.match(compose, /cjmm-data:\/data\b/);
  assert.match(compose, /cjmm-journal:\/journal\b/);
  assert.match(compose, /stop_signal: SIGTERM/);
});

test('systemd units: ExecStart parses with the CLI; exit 2 (bad config) is not restarted', async () => {
  for (const unit of ['deploy/cjmm.service', 'deploy/cjmm-guard.service']) {
    const text = read(unit);
    const exec = /^ExecStart=(.*)$/m.exec(text)?.[1];
    assert.ok(exec, `${unit}: ExecStart`);
    const bin = exec.trim().split(/\s+/)[0];
    assert.ok(
      isAbsolute(bin) && bin.endsWith('node_modules/.bin/node'),
      `${unit}: the pinned Node 24 (${bin})`,
    );
    await parsesWithCli(cliArgs(exec));
  }
  const serve = read('deploy/cjmm.service');
  assert.match(serve, /^KillSignal=SIGTERM$/m);
  assert.match(serve, /^RestartPreventExitStatus=2$/m);
});
