/** Errors of the market-data store that are the user's to fix. */
import { join } from 'node:path';
import { LOCK_FILE } from './layout.ts';

/** A user-facing store problem (wrong folder, locked, closed). */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** The store is being written by another live process. */
export class StoreLockedError extends StoreError {
  constructor(dir: string, pid: number) {
    super(
      `store ${dir} is being written by process ${pid}; stop it first (or delete ${join(dir, LOCK_FILE)} if that process is gone)`,
    );
    this.name = 'StoreLockedError';
  }
}
