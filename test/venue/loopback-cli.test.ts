/**
 * `cjmm venue serve` with the flags of the mainnet limits, fees and funding, as a user runs it: a child
 * process on the real seed recording, queried through @nktkas/hyperliquid, stopped with SIGTERM.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExchangeClient, HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

const CLI = join(REPO_ROOT, 'src/cli/main.ts');

test('venue serve: lifetime volume, requests used, fee rates, funding series and rate flags', {
  skip: sharedSkip,
}, async () => {
  const w = privateKeyToAccount(generatePrivateKey());
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-venue-'));
  // The seed recording is 2025-12-10 21:10–21:34: a row for 22:00 is the predicted rate.
  const fundingFile = join(dir, 'funding.json');
  writeFileSync(
    fundingFile,
    JSON.stringify([
      { coin: 'ETH', fundingRate: '0.000031', premium: '0.0002', time: Date.UTC(2025, 11, 10, 22) + 4 },
    ]),
  );
  let child: ChildProcess | undefined;
  try {
    child = spawn(
      process.execPath,
      [
        CLI,
        'venue',
        'serve',
        ...['--store', SEED_ETH, '--coin', 'ETH', '--port', '0', '--account', w.address],
        ...[
          '--lifetime-volume',
          '2000000',
          '--requests-used',
          '42',
          '--maker-fee',
          '-0.00001',
          '--taker-fee',
          '0.0004',
        ],
        ...['--funding', fundingFile, '--funding-rate', '0.00002', '--no-request-budget'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d) => (out += String(d)));
    child.stderr?.on('data', (d) => (out += String(d)));
    const url = await waitFor(
      () => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
      `server start (output: ${out})`,
      60_000,
    );
    assert.match(
      out,
      /fees: maker -0\.00001, taker 0\.0004 \(given\); funding: 1 rows of .*funding\.json \(elsewhere 0\.00002\/h\); mainnet limits: scheduleCancel gate on, request budget off, nonces current rule/,
    );
    const http = new HttpTransport({ apiUrl: url });
    const info = new InfoClient({ transport: http });
    assert.deepEqual(await info.userRateLimit({ user: w.address }), {
      cumVlm: '2000000.0',
      nRequestsUsed: 42,
      nRequestsCap: 2_010_000,
      nRequestsSurplus: 0,
    });
    const fees = await info.userFees({ user: w.address });
    assert.deepEqual([fees.userAddRate, fees.userCrossRate], ['-0.00001', '0.0004']);
    const predicted = await info.predictedFundings();
    assert.equal(predicted[0][1][0][1]?.fundingRate, '0.000031');
    // $2M lifetime: past the scheduleCancel gate, which is on.
    const ex = new ExchangeClient({ transport: http, wallet: w });
    assert.deepEqual(await ex.scheduleCancel({ time: Date.now() + 60_000 }), {
      status: 'ok',
      response: { type: 'default' },
    });
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    child = undefined;
  } finally {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('venue serve: bad values of the new flags are usage errors naming the flag (exit 2)', () => {
  for (const [flag, value, msg] of [
    ['--funding-rate', '0.5', /--funding-rate must be an hourly fraction/],
    ['--lifetime-volume', '-1', /--lifetime-volume must be a volume in USD/],
    ['--requests-used', '1.5', /--requests-used must be a whole number/],
    ['--maker-fee', 'x', /--maker-fee must be a fraction of notional/],
    ['--fee-tier', '9', /--fee-tier: cannot read '9'/],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [CLI, 'venue', 'serve', '--store', '/nonexistent', '--coin', 'ETH', flag, value],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});
