/** One writer process per store: a lock file holding the writer's pid, taken on first write. */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreLockedError } from './errors.ts';
import { LOCK_FILE } from './layout.ts';

export class WriterLock {
  private readonly dir: string;
  private held = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Take the lock (idempotent). Throws StoreLockedError when another live process holds it. */
  acquire(): void {
    if (this.held) return;
    const path = join(this.dir, LOCK_FILE);
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new StoreLockedError(this.dir, pid);
      }
      // Stale lock from a process that is gone: take it over.
      writeFileSync(path, String(process.pid));
    }
    this.held = true;
  }

  async release(): Promise<void> {
    if (!this.held) return;
    await rm(join(this.dir, LOCK_FILE), { force: true });
    this.held = false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
