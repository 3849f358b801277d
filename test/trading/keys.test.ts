import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { inspect } from 'node:util';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { agentKeyFromHex, KeyError, loadAgentKey, loadKeyEnv, loadKeyFile } from '../../src/trading/keys.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

// A throwaway key generated for this run (never funded anywhere, never written to the repo).
const KEY = generatePrivateKey();
const dir = mkdtempSync(join(tmpdir(), 'cjmm-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** No 8-character run of the key's hex digits appears in `text`. */
function assertNoKeyMaterial(text: string, key: string = KEY) {
  const hex = key.slice(2).toLowerCase();
  const low = text.toLowerCase();
  for (let i = 0; i + 8 <= hex.length; i += 4) {
    assert.ok(!low.includes(hex.slice(i, i + 8)), `key material leaked: ${text.slice(0, 200)}`);
  }
}

test('a key file readable by group/others is refused with the chmod fix, and nothing of the key is shown', () => {
  const f = join(dir, 'open.key');
  writeFileSync(f, `${KEY}\n`);
  chmodSync(f, 0o644);
  const err = (() => {
    try {
      loadKeyFile(f);
    } catch (e) {
      return e as Error;
    }
  })();
  assert.ok(err instanceof KeyError);
  assert.match(err.message, /mode 644/);
  assert.match(err.message, new RegExp(`chmod 600 ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assertNoKeyMaterial(err.message);
});

test('a private key file loads and derives the same address as viem', () => {
  const f = join(dir, 'ok.key');
  writeFileSync(f, `${KEY}\n`, { mode: 0o600 });
  chmodSync(f, 0o600);
  const k = loadKeyFile(f);
  assert.equal(k.address, privateKeyToAccount(KEY).address);
  assert.match(k.source, /key file/);
  // The loaded key serialises and inspects without the key.
  assertNoKeyMaterial(JSON.stringify(k));
  assertNoKeyMaterial(inspect(k, { depth: 5 }));
  // The raw key is there for the venue's signer, but not enumerable (no spread or serialiser sees it).
  assert.equal(k.privateKey, KEY);
  assert.ok(!Object.keys(k).includes('privateKey'));
  assertNoKeyMaterial(JSON.stringify({ ...k }));
  assertNoKeyMaterial(String(k));
});

test('malformed keys get shape errors that never echo the key', () => {
  const cases: [string, RegExp][] = [
    [KEY.slice(2), /must start with 0x/],
    [KEY.slice(0, 40), /0x \+ 64 hex digits \(got 0x \+ 38/],
    [`${KEY.slice(0, 65)}g`, /only hex digits/],
    [`0x${'0'.repeat(64)}`, /not a valid secp256k1/],
    [`0x${'f'.repeat(64)}`, /not a valid secp256k1/],
  ];
  for (const [bad, re] of cases) {
    assert.throws(
      () => loadKeyEnv('K', { K: bad }),
      (e: Error) => {
        assert.ok(e instanceof KeyError);
        assert.match(e.message, re);
        assert.match(e.message, /environment variable K/);
        assertNoKeyMaterial(e.message, bad.startsWith('0x') ? bad : `0x${bad}`);
        return true;
      },
    );
  }
});

test('missing key: the error names the environment variable and --key-file', () => {
  assert.throws(
    () => loadAgentKey({ keyEnv: 'CJMM_TEST_NO_SUCH_VAR' }, {}),
    /set the environment variable CJMM_TEST_NO_SUCH_VAR or pass --key-file/,
  );
  assert.throws(
    () => loadAgentKey({ keyEnv: 'X', keyFile: join(dir, 'absent.key') }, {}),
    /--key-file: cannot read .*absent.key \(ENOENT\)/,
  );
  // The key file wins over the environment.
  const f = join(dir, 'ok2.key');
  writeFileSync(f, KEY, { mode: 0o600 });
  assert.equal(
    loadAgentKey({ keyEnv: 'X', keyFile: f }, { X: 'garbage' }).address,
    privateKeyToAccount(KEY).address,
  );
});

test('pino redaction censors key-bearing fields; the logged key object shows only its address', () => {
  const chunks: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  });
  const log = createTradingLogger('debug', sink);
  const k = agentKeyFromHex(KEY, 'test');
  log.info(
    { privateKey: KEY, account: { privateKey: KEY }, config: { account: { privateKey: KEY } }, key: KEY },
    'x',
  );
  log.info({ agent: k }, 'loaded');
  const out = chunks.join('');
  assert.match(out, /\[redacted\]/);
  assert.match(out, new RegExp(k.address));
  assertNoKeyMaterial(out);
});

test('cjmm trade --live with a bad key: exit 2, clear error without key material, no journal created', () => {
  const journal = join(dir, 'never.sqlite');
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, KEY.slice(0, 50), { mode: 0o600 });
  const cfg = join(dir, 'live.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      coin: 'ETH',
      orderSize: 0.01,
      account: { masterAddress: privateKeyToAccount(KEY).address },
    }),
  );
  const env = { ...process.env, PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH}` };
  const r = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'src/cli/main.ts'),
      'trade',
      '--config',
      cfg,
      '--live',
      '--key-file',
      bad,
      '--journal',
      journal,
      '--duration',
      '1',
    ],
    { env, encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cjmm: the private key from key file .*bad.key must be 0x \+ 64 hex digits/);
  assertNoKeyMaterial(r.stderr + r.stdout);
  assert.equal(existsSync(journal), false, 'no journal may be created');
});
