/**
 * kill -9 at any moment loses at most the rows of the transaction being written: a child process writes the
 * journal as a session does (one transaction per turn, fills at once, the maintenance thread checkpointing the
 * WAL every 20 ms) and is killed with SIGKILL at random moments; after each kill the journal must pass SQLite's
 * integrity check, hold every transaction the child reported committed, and hold each transaction whole or not
 * at all.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { Rng } from '../../src/util/rng.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runAndKill(path: string, rows: number, killAfterLines: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'test/trading/fixtures/journal-writer.ts'), path, String(rows)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let committed = 0;
  let lines = 0;
  let err = '';
  child.stderr.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(signal ? -1 : code)));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      for (const l of String(d).split('\n')) {
        if (!l) continue;
        committed = Math.max(committed, Number(l));
        if (++lines === killAfterLines) {
          child.kill('SIGKILL');
          resolve();
        }
      }
    });
    child.on('exit', () => resolve());
  });
  const code = await exited;
  assert.equal(code, -1, `the writer died by itself: ${err}`);
  return committed;
}

test('kill -9 at random moments: integrity ok, every committed transaction whole, nothing partial', async () => {
  const path = join(dir, 'j.sqlite');
  const rng = new Rng(20261204);
  const rnd = () => rng.uniform();
  let lastCommitted = 0;
  for (let run = 0; run < 6; run++) {
    // Small and large transactions; killed after a random number of commits (so at a random point of the next).
    const rows = run % 2 === 0 ? 20 : 400;
    const committed = await runAndKill(path, rows, 2 + Math.floor(rnd() * 25));
    assert.ok(committed > lastCommitted, 'the writer made progress');
    const db = new DatabaseSync(path);
    try {
      const ok = db.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
      assert.equal(ok.integrity_check, 'ok');
      // Every order row's transaction: seq → rows. All complete, none beyond the one being written.
      const perSeq = db
        .prepare(
          "SELECT json_extract(data, '$.seq') AS seq, COUNT(*) AS n FROM events WHERE type = 'order' GROUP BY seq ORDER BY seq",
        )
        .all() as { seq: number; n: number }[];
      const maxSeq = perSeq[perSeq.length - 1].seq;
      assert.ok(maxSeq >= committed, `committed transaction ${committed} lost (journal has up to ${maxSeq})`);
      assert.ok(maxSeq <= committed + 1, 'at most the transaction being written when killed');
      const expected = new Map<number, number>();
      for (const r of perSeq) expected.set(r.seq, r.n);
      for (let s = 1; s <= maxSeq; s++) {
        const n = expected.get(s);
        assert.ok(n !== undefined, `transaction ${s} missing`);
        const wanted = n === 20 || n === 400 ? n : -1;
        assert.equal(n, wanted, `transaction ${s} is partial (${n} rows)`);
      }
      // The derived tables agree with the events: one orders row per order event, one fill per fill event.
      const orders = db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number };
      const orderEvents = db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'order'").get() as {
        n: number;
      };
      assert.equal(orders.n, orderEvents.n);
      const fills = db.prepare('SELECT COUNT(*) AS n FROM fills').get() as { n: number };
      const fillEvents = db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'fill'").get() as {
        n: number;
      };
      assert.equal(fills.n, fillEvents.n);
      lastCommitted = maxSeq;
    } finally {
      db.close();
    }
  }
});
