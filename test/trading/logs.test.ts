/** Logs: human lines (pino-pretty) on a terminal or when forced, JSON lines when piped or with --log-json. */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { logDestination, prettyLogs, setLogFormat } from '../../src/util/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-logs-'));
after(() => {
  setLogFormat('auto');
  rmSync(dir, { recursive: true, force: true });
});

function logTo(name: string): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  const log = createTradingLogger('info', logDestination(fd));
  log.warn({ coin: 'ETH', privateKey: '0xabc' }, 'market data stale: quotes pulled');
  log.flush();
  closeSync(fd);
  return readFileSync(path, 'utf8');
}

test('auto: a file or pipe gets JSON lines', () => {
  setLogFormat('auto');
  const fd = openSync(join(dir, 'probe'), 'w');
  assert.equal(prettyLogs(fd), false);
  closeSync(fd);
  const line = JSON.parse(logTo('auto.log').trim()) as Record<string, unknown>;
  assert.equal(line.msg, 'market data stale: quotes pulled');
  assert.equal(line.level, 40);
  assert.equal(line.privateKey, '[redacted]');
});

test('pretty (a terminal): one human line per entry, level name and message, no JSON, key redacted', () => {
  setLogFormat('pretty');
  const text = logTo('pretty.log');
  assert.equal(text.trim().split('\n').length, 1);
  assert.match(text, /WARN/);
  assert.match(text, /market data stale: quotes pulled/);
  assert.ok(!text.trimStart().startsWith('{'), text);
  assert.ok(!text.includes('0xabc'), 'the key never reaches the log');
});

test('--log-json forces JSON even where logs would be pretty', () => {
  setLogFormat('json');
  assert.equal(prettyLogs(2), false);
  assert.doesNotThrow(() => JSON.parse(logTo('json.log').trim()));
});
