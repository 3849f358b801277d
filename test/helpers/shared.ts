/** Locates ../shared/data (the real recordings) for tests; tests that need it skip with a message if absent. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = repoRoot;
export const SHARED_DATA = process.env.CJMM_SHARED_DATA ?? resolve(repoRoot, '..', 'shared', 'data');
export const HL_DATA = join(SHARED_DATA, 'hyperliquid');
export const SEED_ETH = join(HL_DATA, 'seed-collector', 'ETH');
export const SEED_ROOT = join(HL_DATA, 'seed-collector');
export const ARCHIVE_ROOT = join(HL_DATA, 'archive');
export const WS_CAPTURE = join(HL_DATA, 'ws-capture', 'btcusd_20250126.gz');

export const hasShared = existsSync(HL_DATA);
/** Pass as `{ skip: sharedSkip }` to node:test's `test`/`describe`. */
export const sharedSkip: string | false = hasShared
  ? false
  : `../shared/data not found at ${SHARED_DATA} (set CJMM_SHARED_DATA); skipping tests on real recordings`;
