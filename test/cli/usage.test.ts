/**
 * Usage errors of the real binary (a child process, as a user runs it): unknown options, missing required
 * options, bad values and missing subcommands all exit 2 with commander's or our message and the usage line
 * of the command that failed; help and version exit 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/shared.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

function cjmm(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('usage errors exit 2 with the usage line of the command', () => {
  const cases: { args: string[]; usage: string; says: RegExp }[] = [
    { args: ['trade', '--bogus'], usage: 'usage: cjmm trade ', says: /unknown option '--bogus'/ },
    { args: ['record', '--store', '/tmp/x'], usage: 'usage: cjmm record ', says: /--coins <list>/ },
    { args: ['backtest', '--data'], usage: 'usage: cjmm backtest ', says: /argument missing/ },
    {
      args: ['trade', 'history', '--limit', 'ten'],
      usage: 'usage: cjmm trade history ',
      says: /--limit must be a positive integer/,
    },
    { args: ['trade', '--duration', 'soon'], usage: 'usage: cjmm trade ', says: /--duration must be/ },
    { args: ['guard', '--grace', '-3'], usage: 'usage: cjmm guard ', says: /--grace/ },
    { args: ['venue', 'serve'], usage: 'usage: cjmm venue serve ', says: /--store|--coin/ },
    { args: ['nosuch'], usage: 'usage: cjmm ', says: /unknown command 'nosuch'/ },
  ];
  for (const c of cases) {
    test(`cjmm ${c.args.join(' ')}`, () => {
      const r = cjmm(...c.args);
      assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
      assert.match(r.err, c.says);
      assert.ok(r.err.includes(c.usage), `usage line in: ${r.err}`);
    });
  }

  test('a missing subcommand shows the group help and exits 2', () => {
    const r = cjmm('data');
    assert.equal(r.code, 2);
    assert.match(r.err, /Usage: cjmm data/);
  });

  test('--help and --version exit 0', () => {
    assert.equal(cjmm('trade', '--help').code, 0);
    assert.equal(cjmm('--version').code, 0);
  });
});
