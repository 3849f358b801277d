import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/data.ts';
import { REPO_ROOT, sharedSkip, WS_CAPTURE } from '../helpers/shared.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-data-cli-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** Run `cjmm <args>` in-process (the data command on a fresh program), capturing stdout. */
async function cjmm(...args: string[]) {
  const program = new Command().exitOverride();
  register(program);
  const lines: string[] = [];
  const log = mock.method(console, 'log', (...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  try {
    await program.parseAsync(['node', 'cjmm', ...args]);
    return { code: 0, out: `${lines.join('\n')}\n`, err: '' };
  } catch (e) {
    return {
      code: (e as { exitCode?: number }).exitCode ?? 1,
      out: lines.join('\n'),
      err: (e as Error).message,
    };
  } finally {
    log.mock.restore();
  }
}

/** The real executable, to check the wiring in src/cli/main.ts (slow: loads every command). */
function cjmmProcess(...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('cjmm data (CLI)', { skip: sharedSkip }, () => {
  const store = join(tmpRoot, 'store');

  test('import, re-import, ls, export (csv and parquet), time window', async () => {
    const imp = await cjmm('data', 'import', WS_CAPTURE, '--store', store);
    assert.equal(imp.code, 0, imp.err);
    assert.match(imp.out, /\(ws-capture, 1 file\)/);
    assert.match(imp.out, /book\s+read\s+46\s+written\s+45/);
    assert.match(imp.out, /trade\s+read\s+64\s+written\s+64/);
    assert.match(imp.out, /duplicates skipped: 1\n/);

    const again = await cjmm('data', 'import', WS_CAPTURE, '--store', store, '--json');
    assert.equal(again.code, 0, again.err);
    const rep = JSON.parse(again.out);
    assert.deepEqual(rep.written, { book: 0, trade: 0, bbo: 0 });
    assert.equal(rep.duplicates, 110);

    const ls = await cjmm('data', 'ls', '--store', store, '--json');
    assert.equal(ls.code, 0, ls.err);
    const rows = JSON.parse(ls.out);
    assert.deepEqual(
      rows.map((r: Record<string, unknown>) => Object.keys(r)),
      [
        ['coin', 'kind', 'rows', 'start', 'end', 'gaps'],
        ['coin', 'kind', 'rows', 'start', 'end', 'gaps'],
      ],
    );
    assert.deepEqual(rows[0], {
      coin: 'BTC',
      kind: 'book',
      rows: 45,
      start: 1737918843542,
      end: 1737918868877,
      gaps: [],
    });
    assert.equal(rows[1].rows, 64);
    const text = await cjmm('data', 'ls', '--store', store);
    assert.match(text.out, /^coin\s+kind\s+rows\s+first \(UTC\)\s+last \(UTC\)\s+gaps/);
    assert.match(text.out, /BTC\s+trade\s+64\s+2025-01-26T19:13:14\.873Z/);

    const csv = join(tmpRoot, 'btc-trades.csv');
    const ex = await cjmm(
      'data',
      'export',
      '--store',
      store,
      '--coin',
      'BTC',
      '--kind',
      'trade',
      '--out',
      csv,
    );
    assert.equal(ex.code, 0, ex.err);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'ex_time,rx_time,px,sz,side,tid,hash,buyer,seller');
    assert.equal(lines.length, 65);
    // Whole milliseconds are written as integers, not 1737918794873.0.
    assert.match(lines[1], /^\d{13},/);

    // Window: ISO and epoch-ms forms; [from, to) on exchange time.
    const pq = join(tmpRoot, 'btc-window.parquet');
    const from = '2025-01-26T19:14:10Z';
    const to = String(Date.parse('2025-01-26T19:14:20Z'));
    const ex2 = await cjmm(
      'data',
      'export',
      '--store',
      store,
      '--coin',
      'BTC',
      '--from',
      from,
      '--to',
      to,
      '--out',
      pq,
    );
    assert.equal(ex2.code, 0, ex2.err);
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    for (const kind of ['book', 'trade']) {
      const file = join(tmpRoot, `btc-window.${kind}.parquet`);
      const r = await conn.runAndReadAll(
        `SELECT count(*), min(ex_time), max(ex_time) FROM read_parquet('${file}')`,
      );
      const [n, lo, hi] = r.getRows()[0].map(Number);
      assert.ok(n > 0);
      assert.ok(lo >= Date.parse(from) && hi < Number(to));
      assert.match(ex2.out, new RegExp(`${kind}: ${n} rows`));
    }
    // Book CSV: depths then wide level columns, level 0 first; depth 20 in this capture.
    const bookCsv = join(tmpRoot, 'btc-book.csv');
    assert.equal(
      (await cjmm('data', 'export', '--store', store, '--coin', 'BTC', '--kind', 'book', '--out', bookCsv))
        .code,
      0,
    );
    const header = readFileSync(bookCsv, 'utf8').split('\n')[0].split(',');
    assert.deepEqual(header.slice(0, 7), [
      'ex_time',
      'rx_time',
      'bid_depth',
      'ask_depth',
      'bid_px_0',
      'bid_sz_0',
      'bid_n_0',
    ]);
    assert.equal(header.length, 4 + 20 * 6);
    const first = readFileSync(bookCsv, 'utf8').split('\n')[1].split(',');
    assert.deepEqual(first.slice(2, 7).map(Number), [20, 20, 105055, 3.03622, 5]);
    conn.closeSync();
    inst.closeSync();
  });

  test('user errors name the flag, exit code 2; the installed CLI prints them as one line and the usage line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['data', 'export', '--store', store, '--coin', 'BTC', '--kind', 'quotes', '--out', 'x.csv'],
        /--kind must be one of/,
      ],
      [
        ['data', 'export', '--store', store, '--coin', 'BTC', '--from', 'yesterday', '--out', 'x.csv'],
        /--from/,
      ],
      [['data', 'export', '--store', store, '--coin', 'BTC', '--out', 'x.txt'], /--format/],
      [
        ['data', 'export', '--store', store, '--coin', 'DOGE', '--out', 'x.csv'],
        /--coin: DOGE is not in the store/,
      ],
      [['data', 'import', join(tmpRoot, 'missing'), '--store', store], /no such file/],
      [['data', 'import', WS_CAPTURE, '--store', store, '--gap-threshold', '-1'], /--gap-threshold/],
      [['data', 'ls', '--store', join(tmpRoot, 'nothing-here')], /--store: no store/],
      [['data', 'import', WS_CAPTURE, '--store', store, '--coin', 'ETH'], /--coin: no ETH data in /],
    ];
    for (const [args, re] of cases) {
      const r = await cjmm(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
    const p = cjmmProcess(
      'data',
      'export',
      '--store',
      store,
      '--coin',
      'BTC',
      '--kind',
      'quotes',
      '--out',
      'x.csv',
    );
    assert.equal(p.code, 2);
    // The message on one line, then the command's usage line.
    assert.match(
      p.err,
      /^cjmm: --kind must be one of book, trade, bbo, funding \(got quotes\)\nusage: cjmm data export .*\n$/,
    );
  });
});
